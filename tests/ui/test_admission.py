"""ui.admission.WorkGate: at most ``slots`` at once, the others in line in order, each told its place."""

from __future__ import annotations

import threading
import time

import pytest

from ui.admission import WorkGate
from ui.limits import SERVER_CORES, WORK_SLOTS


def test_slots_follow_the_cores():
    assert WORK_SLOTS["decode"] == SERVER_CORES
    assert WORK_SLOTS["factorize"] == SERVER_CORES
    assert WORK_SLOTS["export"] == 1


def test_at_most_n_run_at_once_and_the_others_go_in_arrival_order():
    gate = WorkGate(2)
    order, places, lock = [], {}, threading.Lock()
    holding = threading.Event()

    def work(name: str):
        def told(ahead, running):
            with lock:
                places.setdefault(name, []).append(ahead)

        with gate.slot(on_wait=told, poll_seconds=0.01):
            with lock:
                order.append(name)
            holding.wait(30)

    first = [threading.Thread(target=work, args=(f"r{i}",)) for i in range(2)]
    for thread in first:
        thread.start()
    while gate.running < 2:
        time.sleep(0.01)
    waiting = []
    for i in range(4):  # queue four more, one after the other
        waiting.append(threading.Thread(target=work, args=(f"w{i}",)))
        waiting[-1].start()
        while gate.waiting < i + 1:
            time.sleep(0.01)
    assert places == {f"w{i}": [i] for i in range(4)}  # each was told how many are ahead of it
    holding.set()
    for thread in first + waiting:
        thread.join(30)
    assert order[:2] == ["r0", "r1"] or order[:2] == ["r1", "r0"]
    assert order[2:] == ["w0", "w1", "w2", "w3"]  # first come, first served
    assert gate.most_running == 2
    assert all(p == sorted(p, reverse=True) for p in places.values())  # places only ever move up


def test_a_lower_priority_number_goes_first():
    gate = WorkGate(1)
    order, release = [], threading.Event()

    def work(name, priority):
        with gate.slot(priority=priority, poll_seconds=0.01):
            order.append(name)
            release.wait(30)

    holder = threading.Thread(target=work, args=("holder", 0))
    holder.start()
    while gate.running < 1:
        time.sleep(0.01)
    late_person = threading.Thread(target=work, args=("person", 0))
    background = threading.Thread(target=work, args=("background", 1))
    background.start()
    while gate.waiting < 1:
        time.sleep(0.01)
    late_person.start()
    while gate.waiting < 2:
        time.sleep(0.01)
    release.set()
    for thread in (holder, background, late_person):
        thread.join(30)
    assert order == ["holder", "person", "background"]


def test_a_ticket_that_leaves_the_line_frees_its_place():
    """A session that reruns or closes while waiting: Streamlit raises in its next drawing call."""
    gate = WorkGate(1)

    class Left(Exception):
        pass

    def leave(ahead, running):
        raise Left

    with gate.slot():
        with pytest.raises(Left):
            with gate.slot(on_wait=leave):
                pass
        assert gate.waiting == 0
    with gate.slot():  # the slot came back
        assert gate.running == 1
    assert gate.running == 0
