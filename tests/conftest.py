"""Shared test settings: hypothesis profiles, the path of the app for AppTest, and a held job board."""

import os
import threading
from pathlib import Path

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
ARTIFACTS = ROOT / "test-artifacts"

settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def hold_worker(board) -> threading.Event:
    """Occupy a ``ui.jobs.JobBoard``'s worker until the returned event is set: later jobs stay queued."""
    release, started = threading.Event(), threading.Event()

    def hold():
        started.set()
        release.wait(30)

    board.submit(("hold", id(release)), hold, priority=-1)
    started.wait(30)
    return release
