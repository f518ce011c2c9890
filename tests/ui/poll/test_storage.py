"""The poll store against sqlite3 itself: what is on disk is read back with the standard library's sqlite3,
not through the store. Expiry and the rate limit run on a clock the test moves; concurrency uses real
threads and processes writing to one file."""

import sqlite3
import subprocess
import sys
import threading

import pytest

from tests.conftest import ROOT
from ui.limits import MAX_ANSWER_CHARS, ROOM_CODE_DIGITS
from ui.poll.storage import (
    PollClosedError,
    PollError,
    PollLimitError,
    PollNotFoundError,
    RateLimitError,
    RoomCodeError,
    SqlitePollStore,
    VoteRejectedError,
    clean_answer,
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    return SqlitePollStore(tmp_path / "polls.sqlite3", ttl_seconds=600, keep_seconds=3600,
                           vote_interval_seconds=3, clock=clock)


def _rows(path, sql, *args):
    with sqlite3.connect(path) as connection:
        return connection.execute(sql, args).fetchall()


def _rank_poll(store, owner="presenter"):
    return store.open_poll(kind="rank", question="At which rank does it look good enough?",
                           subject="chelsea", owner=owner, low=1, high=300)


def test_the_file_is_in_wal_mode_with_a_table_per_poll_and_its_room_code(store):
    first, second = _rank_poll(store), _rank_poll(store)
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {name for (name,) in _rows(store.path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {f"votes_{first.poll_id}", f"votes_{second.poll_id}", "polls", "attempts"} <= tables
    codes = dict(_rows(store.path, "SELECT poll_id, room_code FROM polls"))
    assert codes == {first.poll_id: first.room_code, second.poll_id: second.room_code}
    assert all(len(code) == ROOM_CODE_DIGITS and code.isdigit() for code in codes.values())


def test_votes_land_in_the_polls_own_table_one_per_session(store, clock):
    poll = _rank_poll(store)
    for session, rank in (("a", 20), ("b", 20), ("c", 45)):
        assert store.vote(poll.poll_id, room_code=poll.room_code, session=session, answer=rank) == str(rank)
    clock.now += 3
    store.vote(poll.poll_id, room_code=poll.room_code, session="c", answer="60")  # c changes its mind
    rows = _rows(store.path, f"SELECT session, answer, changes FROM votes_{poll.poll_id} ORDER BY session")
    assert rows == [("a", "20", 1), ("b", "20", 1), ("c", "60", 2)]
    tally = store.tally(poll.poll_id)
    assert tally.counts == {"20": 2, "60": 1} and tally.voters == 3


def test_a_vote_needs_the_room_code(store):
    poll = _rank_poll(store)
    wrong = "0" * ROOM_CODE_DIGITS if poll.room_code != "0" * ROOM_CODE_DIGITS else "1" * ROOM_CODE_DIGITS
    for session, code in (("a", None), ("b", ""), ("c", wrong), ("d", poll.room_code + "0")):
        with pytest.raises(RoomCodeError):
            store.vote(poll.poll_id, room_code=code, session=session, answer=10)
    assert _rows(store.path, f"SELECT COUNT(*) FROM votes_{poll.poll_id}") == [(0,)]


def test_each_session_tries_at_most_once_per_interval_whatever_the_outcome(store, clock):
    poll = _rank_poll(store)
    store.vote(poll.poll_id, room_code=poll.room_code, session="a", answer=5)
    clock.now += 2.9
    with pytest.raises(RateLimitError):
        store.vote(poll.poll_id, room_code=poll.room_code, session="a", answer=6)
    store.vote(poll.poll_id, room_code=poll.room_code, session="b", answer=6)  # another session is free
    with pytest.raises(RoomCodeError):
        store.vote(poll.poll_id, room_code="x", session="guess", answer=6)
    with pytest.raises(RateLimitError):  # a wrong code counts as a try: guessing is slow
        store.vote(poll.poll_id, room_code=poll.room_code, session="guess", answer=6)
    clock.now += 0.2
    store.vote(poll.poll_id, room_code=poll.room_code, session="a", answer=7)
    rows = _rows(store.path, f"SELECT session, answer FROM votes_{poll.poll_id} ORDER BY session")
    assert rows == [("a", "7"), ("b", "6")]


def test_polls_expire_then_their_votes_are_dropped(store, clock):
    poll = _rank_poll(store)
    store.vote(poll.poll_id, room_code=poll.room_code, session="a", answer=3)
    clock.now += 600  # ttl_seconds: the poll ends
    assert not store.get_poll(poll.poll_id).is_open(clock.now)
    with pytest.raises(PollClosedError, match="expired"):
        store.vote(poll.poll_id, room_code=poll.room_code, session="b", answer=3)
    assert store.tally(poll.poll_id).voters == 1  # the results stay readable for keep_seconds
    clock.now += 3599
    assert store.purge_expired() == 0
    clock.now += 1
    assert store.purge_expired() == 1
    assert _rows(store.path, "SELECT COUNT(*) FROM polls") == [(0,)]
    assert not _rows(store.path, "SELECT name FROM sqlite_master WHERE name = ?", f"votes_{poll.poll_id}")
    with pytest.raises(PollNotFoundError):
        store.tally(poll.poll_id)


def test_only_the_owner_closes_a_poll(store, clock):
    poll = _rank_poll(store, owner="presenter")
    with pytest.raises(PollError, match="Only the session"):
        store.close_poll(poll.poll_id, owner="someone")
    clock.now += 5
    closed = store.close_poll(poll.poll_id, owner="presenter")
    assert closed.closed_at == clock.now
    assert _rows(store.path, "SELECT closed_at FROM polls") == [(clock.now,)]
    with pytest.raises(PollClosedError, match="closed"):
        store.vote(poll.poll_id, room_code=poll.room_code, session="a", answer=1)


@pytest.mark.parametrize("answer", [0, 301, -1, "ten", "1.5", "", True, "9" * 12])
def test_a_rank_poll_refuses_what_is_not_a_rank_in_its_range(store, answer):
    poll = _rank_poll(store)
    with pytest.raises(VoteRejectedError):
        store.vote(poll.poll_id, room_code=poll.room_code, session="a", answer=answer)


def test_a_choice_poll_keeps_typed_text_as_text(store, clock):
    poll = store.open_poll(kind="choice", question="What is it?", subject="round 3", owner="p",
                           options=["A cat", "A rocket launch", "Coins", "A horse"], answer="A cat")
    typed = "<b>a  dog</b> <script>alert(1)</script>"[:MAX_ANSWER_CHARS]
    store.vote(poll.poll_id, room_code=poll.room_code, session="a", answer="A cat")
    store.vote(poll.poll_id, room_code=poll.room_code, session="b", answer=typed)
    stored = _rows(store.path, f"SELECT answer FROM votes_{poll.poll_id} WHERE session = 'b'")[0][0]
    assert stored == " ".join(typed.split())  # as typed, spaces collapsed: nothing escaped or interpreted
    counts = store.tally(poll.poll_id).counts
    assert list(counts) == ["A cat", "A rocket launch", "Coins", "A horse", stored]
    assert counts["A cat"] == 1 and counts["Coins"] == 0 and counts[stored] == 1
    for bad in ("", "   ", "x" * (MAX_ANSWER_CHARS + 1), "bell\x07", "rtl\u202e"):
        clock.now += 3
        with pytest.raises(VoteRejectedError):
            store.vote(poll.poll_id, room_code=poll.room_code, session="c", answer=bad)


def test_unknown_and_malformed_poll_ids_are_not_found(store):
    for poll_id in ("0123456789ab", "x; DROP TABLE polls", "", "ABCDEF012345"):
        with pytest.raises(PollNotFoundError):
            store.vote(poll_id, room_code="123456", session="a", answer=1)
    assert _rows(store.path, "SELECT COUNT(*) FROM polls") == [(0,)]


def test_open_polls_and_voters_are_bounded(tmp_path, clock):
    store = SqlitePollStore(tmp_path / "p.sqlite3", max_open_polls=2, max_voters=2, vote_interval_seconds=0,
                            clock=clock)
    first = _rank_poll(store)
    _rank_poll(store)
    with pytest.raises(PollLimitError):
        _rank_poll(store)
    store.close_poll(first.poll_id, owner="presenter")
    poll = _rank_poll(store)  # a closed poll frees its place
    for session in ("a", "b"):
        store.vote(poll.poll_id, room_code=poll.room_code, session=session, answer=1)
    with pytest.raises(VoteRejectedError, match="most"):
        store.vote(poll.poll_id, room_code=poll.room_code, session="c", answer=1)
    store.vote(poll.poll_id, room_code=poll.room_code, session="a", answer=2)  # a voter may still change


def test_the_file_survives_a_new_store(tmp_path, clock):
    path = tmp_path / "polls.sqlite3"
    first = SqlitePollStore(path, clock=clock)
    poll = _rank_poll(first)
    first.vote(poll.poll_id, room_code=poll.room_code, session="a", answer=12)
    again = SqlitePollStore(path, clock=clock)  # a restarted server opens the same file
    assert again.get_poll(poll.poll_id) == poll
    assert again.tally(poll.poll_id).counts == {"12": 1}


def test_clean_answer():
    assert clean_answer("  A\tcup  of\ncoffee ") == "A cup of coffee"
    assert clean_answer("Cafe\u0301") == "Café"  # NFC


def test_concurrent_writers_in_threads_lose_no_vote(store):
    poll = _rank_poll(store)
    errors = []

    def voter(index: int) -> None:
        try:
            store.vote(poll.poll_id, room_code=poll.room_code, session=f"t{index}", answer=index % 7 + 1)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=voter, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = _rows(store.path, f"SELECT answer, COUNT(*) FROM votes_{poll.poll_id} GROUP BY answer")
    expected = {str(r): sum(1 for i in range(40) if i % 7 + 1 == r) for r in range(1, 8)}
    assert dict(rows) == {k: v for k, v in expected.items()}


def _process_voter(path: str, poll_id: str, room_code: str, first: int, count: int) -> None:
    store = SqlitePollStore(path)
    for index in range(first, first + count):
        store.vote(poll_id, room_code=room_code, session=f"p{index}", answer=index % 5 + 1)


def test_concurrent_writers_in_processes_lose_no_vote(tmp_path):
    path = tmp_path / "polls.sqlite3"
    store = SqlitePollStore(path)
    poll = _rank_poll(store)
    # Plain interpreters, not multiprocessing: its "spawn" re-imports the parent's __main__, which an
    # earlier AppTest in the same pytest process may have replaced.
    code = ("import sys; from tests.ui.poll.test_storage import _process_voter; "
            "_process_voter(*sys.argv[1:4], int(sys.argv[4]), 25)")
    workers = [subprocess.Popen([sys.executable, "-c", code, str(path), poll.poll_id, poll.room_code,
                                 str(25 * w)], cwd=ROOT) for w in range(4)]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0, 0, 0]
    assert _rows(path, f"SELECT COUNT(*), COUNT(DISTINCT session) FROM votes_{poll.poll_id}") == [(100, 100)]
    assert sum(store.tally(poll.poll_id).counts.values()) == 100
