"""ui.sessions.SessionWatch: a session ends once it has been disconnected for a while, or silent for long."""

from __future__ import annotations

import pytest

from ui.sessions import SessionWatch


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_disconnected_session_ends_after_the_grace_period_and_only_once():
    clock, active, ended, closed = Clock(), {"sa": True, "sb": True}, [], []
    watch = SessionWatch(gone_seconds=20, ttl_seconds=3600, is_active=active.get, close=closed.append,
                         clock=clock)
    watch.on_end(ended.append)
    watch.heartbeat("a", "sa")
    watch.heartbeat("b", "sb")
    assert watch.reap() == []
    active["sa"] = False  # a's tab closed
    clock.now += 5
    assert watch.reap() == []  # seen disconnected now: it may come back
    clock.now += 19
    assert watch.reap() == []
    clock.now += 1
    assert watch.reap() == ["a"] and ended == ["a"]
    assert closed == ["sa"]  # Streamlit is asked to drop what it keeps for the session
    clock.now += 100
    assert watch.reap() == [] and ended == ["a"] and closed == ["sa"]
    assert watch.tokens() == ["b"]


def test_a_session_that_reconnects_within_the_grace_period_stays():
    clock, active, ended = Clock(), {"sa": False}, []
    watch = SessionWatch(gone_seconds=20, ttl_seconds=3600, is_active=active.get, close=lambda sid: None,
                         clock=clock)
    watch.on_end(ended.append)
    watch.heartbeat("a", "sa")
    watch.reap()
    clock.now += 15
    active["sa"] = True
    watch.reap()
    active["sa"] = False
    clock.now += 15
    assert watch.reap() == []  # the grace period starts again at the new disconnection
    clock.now += 19
    assert watch.reap() == []
    clock.now += 1
    assert watch.reap() == ["a"]


def test_without_a_runtime_to_ask_a_silent_session_ends_after_its_ttl():
    clock, ended = Clock(), []
    watch = SessionWatch(gone_seconds=20, ttl_seconds=600, is_active=lambda session_id: None,
                         close=lambda sid: pytest.fail("no runtime: nothing to close"), clock=clock)
    watch.on_end(ended.append)
    watch.heartbeat("a")
    clock.now += 599
    assert watch.reap() == []
    watch.heartbeat("a")  # it ran again
    clock.now += 599
    assert watch.reap() == []
    clock.now += 2
    assert watch.reap() == ["a"] and ended == ["a"]


def test_a_failing_callback_does_not_keep_the_others_from_running():
    ended = []
    watch = SessionWatch(is_active=lambda session_id: None)
    watch.on_end(lambda token: 1 / 0)
    watch.on_end(ended.append)
    watch.heartbeat("a")
    watch.end("a")
    assert ended == ["a"]
