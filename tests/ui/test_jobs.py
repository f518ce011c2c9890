"""ui.jobs.JobBoard under a full room: a bounded queue, results trimmed when jobs finish, and a session's
jobs cancelled when it ends."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import hold_worker
from ui import jobs


@pytest.fixture
def board():
    board = jobs.JobBoard(max_jobs=20, max_pending=6)
    yield board
    board.close()


def test_finished_jobs_are_trimmed_when_they_finish_not_only_when_one_is_submitted():
    """Exact SVDs queued at once, keep=2: main kept every finished result (8 kept 1152 MB at 4 MP)."""
    board = jobs.JobBoard(max_jobs=20)
    try:
        release = hold_worker(board)
        futures = [board.submit(("exact", i), lambda i=i: i, keep=2) for i in range(5)]
        release.set()
        assert [f.result(30) for f in futures] == list(range(5))
        board.wait()
        kept = [i for i in range(5) if board.get(("exact", i)) is not None]
        assert kept == [3, 4]  # the two newest; nothing was submitted after they finished
    finally:
        board.close()


def test_the_queue_is_bounded_and_a_refused_job_says_the_server_is_busy(board):
    release = hold_worker(board)  # 1 running
    try:
        queued = [board.submit(("rd", i), lambda i=i: i) for i in range(5)]  # 6 pending in all
        refused = board.submit(("rd", 99), lambda: 99)
        assert refused.done() and isinstance(refused.exception(), jobs.JobQueueFull)
        assert "busy" in str(refused.exception())
        assert board.get(("rd", 99)) is None  # not kept: the next submission tries again
        assert len(board.pending()) == 6
    finally:
        release.set()
    assert [f.result(30) for f in queued] == list(range(5))
    assert board.submit(("rd", 99), lambda: 99).result(30) == 99  # room again


def test_a_session_that_ends_has_its_queued_jobs_cancelled_and_its_results_dropped(board):
    finished_a = board.submit(("rd", "a0"), lambda: "a0", owner="a")
    assert finished_a.result(30) == "a0"
    release = hold_worker(board)
    try:
        queued_a = board.submit(("exact", "a"), lambda: "a", owner="a")
        queued_b = board.submit(("exact", "b"), lambda: "b", owner="b")
        board.hold("a", "exact", "image a", queued_a)
        board.end_session("a")
        assert queued_a.cancelled()
        assert not queued_b.cancelled()
        assert board.get(("exact", "a")) is None and board.held("a", "exact", "image a") is None
        assert board.get(("rd", "a0")) is None  # a finished result is not kept for nobody
    finally:
        release.set()
    assert queued_b.result(30) == "b"


def test_a_held_future_is_found_only_for_what_it_was_held_for(board):
    future = board.submit(("exact", "x"), lambda: 1, owner="s")
    board.hold("s", "exact", ("key", "rgb"), future)
    assert board.held("s", "exact", ("key", "rgb")) is future
    assert board.held("s", "exact", ("key", "ycbcr")) is None
    assert board.held("t", "exact", ("key", "rgb")) is None


def test_a_cancelled_job_lets_go_of_its_arguments_at_once(board):
    """A queued exact SVD holds its image (48 MB at 4 MP): cancelled, it must not wait for the worker."""
    import gc
    import weakref

    class Image:
        pass

    release = hold_worker(board)
    try:
        image = Image()
        alive = weakref.ref(image)
        board.submit(("exact", "big"), lambda picture: picture, image, owner="gone")
        del image
        board.end_session("gone")
        gc.collect()
        assert alive() is None  # while the worker is still busy with another job
    finally:
        release.set()


def test_a_job_running_when_its_session_ends_is_not_kept_when_it_finishes(board):
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(30)
        return "result"

    future = board.submit(("exact", "running"), slow, owner="gone", keep=2)
    started.wait(30)
    board.end_session("gone")
    release.set()
    assert future.result(30) == "result"
    board.wait()
    assert board.get(("exact", "running")) is None
