"""Where a room poll's votes live: one SQLite file through the standard library (no Streamlit here).

The interface is ``ui.poll.model.PollStore`` (open, read, vote, tally, close, purge; its records and errors
are importable from here too); ``SqlitePollStore`` implements it on one SQLite file in WAL mode, so another
store (a server database) can replace it behind the same methods. The file holds a table ``polls`` (one row
per poll: its room code, question, range or options, owner and expiry), one table per poll, ``votes_<poll
id>`` (one row per voting session: its latest answer), and a table ``attempts`` (each session's last try at
each poll, for the rate limit). Every write is one ``BEGIN IMMEDIATE`` transaction on its own connection, so
sessions on other threads or processes write safely at once (WAL lets readers go on while one writes).

Rules every store keeps:
- a poll takes votes until it is closed or its time runs out (``ttl_seconds``); the votes stay readable for
  ``keep_seconds`` after that, then ``purge_expired`` drops them;
- a vote needs the poll's room code (compared in constant time);
- a session counts once per poll (a new vote replaces its last) and may try at most once per
  ``vote_interval_seconds``, whatever the outcome (so a room code is not guessed quickly); a poll counts at
  most ``max_voters`` sessions;
- answers are plain text: a rank poll takes a whole number in its range, a choice poll any text up to
  ``MAX_ANSWER_CHARS`` characters without control characters. The store never renders anything; whoever
  shows an answer shows it as text.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from ui.limits import (
    MAX_OPEN_POLLS,
    MAX_POLL_VOTERS,
    POLL_KEEP_SECONDS,
    POLL_TTL_SECONDS,
    POLL_VOTE_INTERVAL_SECONDS,
    ROOM_CODE_DIGITS,
)
from ui.poll import model as _model
from ui.poll.model import (
    POLL_KINDS,
    Poll,
    PollClosedError,
    PollError,
    PollLimitError,
    PollNotFoundError,
    PollStore,  # noqa: F401 - re-exported (the interface this class implements)
    RateLimitError,
    RoomCodeError,
    Tally,
    VoteRejectedError,
    clean_answer,
)

__all__ = ["SqlitePollStore", *_model.__all__]  # the records and errors, importable from here too

_POLL_ID = re.compile(r"[0-9a-f]{12}")  # also what makes a poll's table name safe to write into SQL
_SESSION = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MAX_TEXT_CHARS = 200  # a question or a subject
_MAX_OPTIONS = 12


def _poll_from_row(row: sqlite3.Row) -> Poll:
    """A ``polls`` row as a Poll."""
    return Poll(row["poll_id"], row["room_code"], row["kind"], row["question"], row["subject"],
                tuple(json.loads(row["options"])), int(row["low"]), int(row["high"]), row["answer"],
                float(row["created_at"]), float(row["expires_at"]),
                None if row["closed_at"] is None else float(row["closed_at"]))


def _table(poll_id: str) -> str:
    """The name of a poll's votes table; the id is checked first, since it goes into SQL as a name."""
    if not isinstance(poll_id, str) or not _POLL_ID.fullmatch(poll_id):
        raise PollNotFoundError(f"There is no poll “{str(poll_id)[:20]}”.")
    return f"votes_{poll_id}"


class SqlitePollStore:
    """Polls and their votes in one SQLite file (WAL mode), safe for many threads and processes.

    Parameters
    ----------
    path : str or Path
        The database file; its folder is created when missing.
    ttl_seconds, keep_seconds, vote_interval_seconds, max_voters, max_open_polls, room_code_digits :
        The rules in the module's docstring (defaults from ``ui.limits``).
    clock : callable returning float
        Seconds since the epoch (``time.time``); tests pass their own.
    """

    def __init__(self, path: str | Path, *, ttl_seconds: float = POLL_TTL_SECONDS,
                 keep_seconds: float = POLL_KEEP_SECONDS,
                 vote_interval_seconds: float = POLL_VOTE_INTERVAL_SECONDS, max_voters: int = MAX_POLL_VOTERS,
                 max_open_polls: int = MAX_OPEN_POLLS, room_code_digits: int = ROOM_CODE_DIGITS,
                 clock: Callable[[], float] = time.time):
        if ttl_seconds <= 0 or keep_seconds < 0 or vote_interval_seconds < 0:
            raise ValueError(f"ttl_seconds must be > 0 and keep_seconds, vote_interval_seconds >= 0; got "
                             f"{ttl_seconds}, {keep_seconds}, {vote_interval_seconds}")
        if max_voters < 1 or max_open_polls < 1 or not 4 <= room_code_digits <= 12:
            raise ValueError(f"max_voters and max_open_polls must be >= 1 and room_code_digits in 4..12; got "
                             f"{max_voters}, {max_open_polls}, {room_code_digits}")
        self.path = Path(path)
        self.ttl_seconds = float(ttl_seconds)
        self.keep_seconds = float(keep_seconds)
        self.vote_interval_seconds = float(vote_interval_seconds)
        self.max_voters = int(max_voters)
        self.max_open_polls = int(max_open_polls)
        self.room_code_digits = int(room_code_digits)
        self.clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as connection:
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise PollError(f"The poll database {self.path.name} cannot use WAL mode (got {mode!r}).")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS polls (poll_id TEXT PRIMARY KEY, room_code TEXT NOT NULL, "
                "owner TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('rank', 'choice')), "
                "question TEXT NOT NULL, subject TEXT NOT NULL, options TEXT NOT NULL, low INTEGER NOT NULL, "
                "high INTEGER NOT NULL, answer TEXT NOT NULL, created_at REAL NOT NULL, "
                "expires_at REAL NOT NULL, closed_at REAL)")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS attempts (poll_id TEXT NOT NULL, session TEXT NOT NULL, "
                "tried_at REAL NOT NULL, PRIMARY KEY (poll_id, session))")

    # ------------------------------------------------------------------------------------------ plumbing

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection (autocommit: writers begin their own transaction), closed afterwards."""
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA busy_timeout = 30000")
            yield connection
        finally:
            connection.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: it holds the write lock from its start)."""
        with self._connection() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    @staticmethod
    def _read_poll(connection: sqlite3.Connection, poll_id: str) -> Poll:
        """The poll's row, or PollNotFoundError."""
        row = connection.execute("SELECT * FROM polls WHERE poll_id = ?", (poll_id,)).fetchone()
        if row is None:
            raise PollNotFoundError(f"There is no poll “{poll_id}” (it may have expired and been removed).")
        return _poll_from_row(row)

    # ----------------------------------------------------------------------------------------- interface

    def open_poll(self, *, kind: str, question: str, subject: str, owner: str, options: Sequence[str] = (),
                  low: int = 0, high: int = 0, answer: str = "") -> Poll:
        """Open a poll and return it (with its new id and room code).

        A rank poll takes whole numbers in [low, high] (1 <= low <= high); a choice poll takes text and
        offers ``options`` (1 to 12 distinct answers). ``owner`` (a session token) may close it.
        """
        if kind not in POLL_KINDS:
            raise ValueError(f"kind must be one of {POLL_KINDS}; got {kind!r}")
        if not _SESSION.fullmatch(str(owner)):
            raise ValueError(f"owner must be a session token ([A-Za-z0-9_-], 1 to 64 characters); got "
                             f"{owner!r}")
        question, subject = str(question)[:_MAX_TEXT_CHARS], str(subject)[:_MAX_TEXT_CHARS]
        if kind == "rank":
            low, high, options = int(low), int(high), ()
            if not 1 <= low <= high:
                raise ValueError(f"a rank poll needs 1 <= low <= high; got {low}, {high}")
        else:
            options = tuple(clean_answer(option) for option in options)
            if not 1 <= len(options) <= _MAX_OPTIONS or len(set(options)) != len(options):
                raise ValueError(f"a choice poll needs 1 to {_MAX_OPTIONS} distinct options; got {options!r}")
            low = high = 0
        answer = clean_answer(answer) if answer else ""
        self.purge_expired()
        now = self.clock()
        poll_id = secrets.token_hex(6)
        room_code = "".join(secrets.choice("0123456789") for _ in range(self.room_code_digits))
        with self._write() as connection:
            open_now = connection.execute(
                "SELECT COUNT(*) FROM polls WHERE closed_at IS NULL AND expires_at > ?", (now,)).fetchone()[0]
            if open_now >= self.max_open_polls:
                raise PollLimitError(f"{open_now} polls are open on this server, the most it takes; close "
                                     "one or wait until one expires.")
            connection.execute(
                "INSERT INTO polls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (poll_id, room_code, owner, kind, question, subject, json.dumps(list(options)), low, high,
                 answer, now, now + self.ttl_seconds))
            connection.execute(f"CREATE TABLE {_table(poll_id)} (session TEXT PRIMARY KEY, "
                               "answer TEXT NOT NULL, voted_at REAL NOT NULL, changes INTEGER NOT NULL)")
            return self._read_poll(connection, poll_id)

    def get_poll(self, poll_id: str) -> Poll:
        """The poll with this id (open, closed, or ended but kept); PollNotFoundError otherwise."""
        _table(poll_id)
        with self._connection() as connection:
            return self._read_poll(connection, poll_id)

    def vote(self, poll_id: str, *, room_code: str | None, session: str, answer: str | int) -> str:
        """Record ``session``'s answer (replacing its last one) and return the answer as stored.

        Every try counts against the session's rate, whatever its outcome. Raises RateLimitError (a try
        less than ``vote_interval_seconds`` ago), RoomCodeError (missing or wrong code), PollClosedError,
        VoteRejectedError (an answer the poll does not take, or a full poll) and PollNotFoundError.
        """
        table = _table(poll_id)
        if not _SESSION.fullmatch(str(session)):
            raise VoteRejectedError("This browser session has no usable token; reload the page.")
        refused: PollError | None = None
        with self._write() as connection:
            poll = self._read_poll(connection, poll_id)
            now = self.clock()
            last = connection.execute("SELECT tried_at FROM attempts WHERE poll_id = ? AND session = ?",
                                      (poll_id, session)).fetchone()
            wait = 0.0 if last is None else last["tried_at"] + self.vote_interval_seconds - now
            if wait > 0:
                raise RateLimitError(f"You tried a moment ago; try again in {max(wait, 1.0):.0f} s.")
            connection.execute("INSERT OR REPLACE INTO attempts VALUES (?, ?, ?)", (poll_id, session, now))
            try:
                stored = self._checked_answer(poll, room_code, answer, now)
                if connection.execute(f"SELECT 1 FROM {table} WHERE session = ?", (session,)).fetchone():
                    connection.execute(f"UPDATE {table} SET answer = ?, voted_at = ?, changes = changes + 1 "
                                       "WHERE session = ?", (stored, now, session))
                else:
                    voters = connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                    if voters >= self.max_voters:
                        raise VoteRejectedError(f"This poll already counts {voters} voters, the most it "
                                                "takes.")
                    connection.execute(f"INSERT INTO {table} VALUES (?, ?, ?, 1)", (session, stored, now))
            except PollError as error:  # the try is kept (committed below), the vote is not
                refused = error
        if refused is not None:
            raise refused
        return stored

    @staticmethod
    def _checked_answer(poll: Poll, room_code: str | None, answer: str | int, now: float) -> str:
        """The answer as stored, once the room code and the poll's state are checked."""
        if not room_code:
            raise RoomCodeError("This poll needs its room code: open the link of the presenter's QR code "
                                "(it carries the code), or ask for it.")
        if not hmac.compare_digest(str(room_code).encode(), poll.room_code.encode()):
            raise RoomCodeError("That room code is not this poll's: check the presenter's screen.")
        if poll.closed_at is not None:
            raise PollClosedError("This poll has been closed by the presenter.")
        if now >= poll.expires_at:
            raise PollClosedError("This poll has expired.")
        if poll.kind == "choice":
            return clean_answer(str(answer))
        text = str(answer).strip()
        if isinstance(answer, bool) or not re.fullmatch(r"\d{1,9}", text):
            raise VoteRejectedError(f"A rank is a whole number from {poll.low} to {poll.high}.")
        if not poll.low <= int(text) <= poll.high:
            raise VoteRejectedError(f"Rank {int(text)} is outside {poll.low} to {poll.high}.")
        return str(int(text))

    def tally(self, poll_id: str) -> Tally:
        """The votes so far (see ``Tally`` for the order of the answers)."""
        table = _table(poll_id)
        with self._connection() as connection:
            poll = self._read_poll(connection, poll_id)
            rows = connection.execute(f"SELECT answer, COUNT(*) AS n FROM {table} GROUP BY answer").fetchall()
        found = {row["answer"]: int(row["n"]) for row in rows}
        if poll.kind == "rank":
            counts = {key: found[key] for key in sorted(found, key=int)}
        else:
            counts = {option: found.pop(option, 0) for option in poll.options}
            counts.update(sorted(found.items(), key=lambda item: (-item[1], item[0])))
        return Tally(poll, counts, sum(counts.values()))

    def close_poll(self, poll_id: str, *, owner: str) -> Poll:
        """Stop the poll taking votes (only the session that opened it may); returns the closed poll."""
        _table(poll_id)
        with self._write() as connection:
            row = connection.execute("SELECT owner FROM polls WHERE poll_id = ?", (poll_id,)).fetchone()
            if row is None:
                raise PollNotFoundError(f"There is no poll “{poll_id}”.")
            if not hmac.compare_digest(str(owner).encode(), row["owner"].encode()):
                raise PollError("Only the session that opened this poll can close it; it closes on its own "
                                "when its time runs out.")
            connection.execute("UPDATE polls SET closed_at = ? WHERE poll_id = ? AND closed_at IS NULL",
                               (self.clock(), poll_id))
            return self._read_poll(connection, poll_id)

    def purge_expired(self) -> int:
        """Drop the polls (and their votes) that ended more than ``keep_seconds`` ago; returns how many."""
        cutoff = self.clock() - self.keep_seconds
        with self._write() as connection:
            ended = [row["poll_id"] for row in connection.execute(
                "SELECT poll_id FROM polls WHERE MIN(expires_at, COALESCE(closed_at, expires_at)) <= ?",
                (cutoff,))]
            for poll_id in ended:
                connection.execute(f"DROP TABLE IF EXISTS {_table(poll_id)}")
                connection.execute("DELETE FROM attempts WHERE poll_id = ?", (poll_id,))
                connection.execute("DELETE FROM polls WHERE poll_id = ?", (poll_id,))
        return len(ended)
