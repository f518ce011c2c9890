"""ui.heap: the app's long-lived objects are frozen once, so Streamlit's collection after each run skips them.

Run in a fresh interpreter: freezing the heap of the pytest process would say nothing about a server's.
"""

import json
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import gc, json, sys
from ui.heap import APP_MODULES, freeze_startup_heap
first = freeze_startup_heap()
again = freeze_startup_heap()
print(json.dumps({"first": first, "again": again, "count": gc.get_freeze_count(),
                  "tracked": len(gc.get_objects()), "loaded": [m in sys.modules for m in APP_MODULES]}))
"""


def test_the_startup_heap_is_frozen_once_after_the_app_modules_are_loaded():
    run = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert all(report["loaded"])
    assert report["first"] == report["again"]  # once per process: the second call is the cached result
    assert report["first"] - 1000 <= report["count"] <= report["first"]  # (frozen objects may still be freed)
    assert report["count"] > 50_000  # torch, plotly, Streamlit: the bulk of the heap
    assert report["tracked"] < report["count"] / 100  # what a collection still walks

