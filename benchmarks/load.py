"""Load test: N sessions upload different photographs to the image page and move the rank scrubber.

    python benchmarks/load.py                           # 8 sessions for 60 s; exit 1 when a target fails
    python benchmarks/load.py --sessions 4 --seconds 30
    python benchmarks/load.py --driver chromium         # the sessions in headless chromium pages instead
    python benchmarks/load.py --photo-size 4000x3000    # phone photos (downscaled to 4 MP: preview first)
    python benchmarks/load.py --no-fail                 # always exit 0
    python benchmarks/load.py --budget                  # the memory budget of the largest accepted image
    python benchmarks/load.py --uploads-at-once 10      # 10 uploads at the same moment: time to first image

A real ``streamlit run app.py`` server is started on a free port of 127.0.0.1 (only loopback traffic) and
stopped with SIGTERM (then killed, that process only). Each session opens /image, chooses "Upload", uploads
its own JPEG (1920×1080 unless ``--photo-size``; made here from ``sources.sample_photo_1080p(name=...)``
with a different photo, flip or crop per session), waits for the rank scrubber (the page's picture and
rank control, ``ui/components/scrubber``), then moves the rank one step right (15 times) and one step left
(15 times) in turn for ``--seconds`` (counted from its own first picture). The browser draws every rank
itself; what reaches the server is the settled rank, which reruns the page once (the numbers, the
spectrum's kept marker, the address). A move is timed from the moment its settled rank is sent to the end
of that rerun; the next move waits for it, as a person reading the numbers would. Every move settling is
the worst case: a person dragging settles once per gesture.

Drivers (``--driver``):

- ``ws`` (default): each session is a ``benchmarks/streamlit_client.StreamlitClient``, the browser's side of
  Streamlit's protocol without the rendering: a websocket carrying the widget states, the upload by HTTP
  PUT, and the scrubber's component state (its "ready" once, then each settled rank) exactly as its
  JavaScript sends them; the client keeps the payload's message and lists its hash, so the server sends the
  4 MB of factors once and a reference after. At a workshop every browser runs on its own laptop; here the
  clients must share the server's two cores, and this driver keeps their share small, so the figure is the
  server's.
- ``chromium``: one headless chromium (Debian's, through Playwright's asyncio API) with N contexts; a move is
  an ArrowRight/ArrowLeft key press on the scrubber, timed until the address shows the new rank and the
  rerun is over (that includes the scrubber's 250 ms of quiet before it reports); the picture's own time
  (key press to the changed canvas) is printed beside it. Eight renderers on two cores measure the machine
  more than the server.

The server's resident memory is polled from /proc/PID/status (VmRSS every 0.1 s, and the kernel's
high-water mark VmHWM at the end).

Errors: an exception box or an error alert on a page, a JavaScript page error (chromium), a move whose rank
is not drawn and settled within ``--press-timeout`` seconds, or a session that fails (upload not shown in
time...).

Targets: no errors, every session completed, settled-rank rerun p95 <= 1.5 s, server peak RSS <= the memory
budget (``--memory-budget-mb``, default 3072; see docs/robustness.md for where the figure comes from).
The whole run stops itself after ``--hard-timeout`` seconds (default: seconds + baseline + 400).

Before the N sessions, one session alone (its own photo) moves the rank for ``--baseline-seconds``
(default 20) on the same server: its latencies are the baseline of the "under load / alone" ratio.

After the sessions have left, the server's resident memory is read again ``--settle-seconds`` later
(default 60): it should come back within 300 MB of the idle server (``--return-target-mb``), the server
measured after one visit that loaded the app and left.

``--uploads-at-once N`` instead measures a room arriving: N sessions open /image, choose "Upload", wait for
each other, then upload their photos at the same moment; each times its upload until its first
reconstruction has arrived, then leaves. One session alone does the same first (the baseline). The table
gives p50 and p95 of those times, how many sessions were shown a "Queued (k ahead)" notice while they
waited (``ui.admission``), the peak RSS and the RSS after everyone left. The decoders' fork server (a child
of the server) is reported on its own line.

``--budget`` instead measures, in a fresh process, the resident memory that loading and factorizing the
largest image the loader accepts (DEFAULT_MAX_PIXELS, as 2000×2000 RGB) adds, next to the sizes of its
tensors (pixels, U, S, Vh, and the page's a = U·diag(S)).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TARGET_P95_SECONDS = 1.5
DEFAULT_BUDGET_MB = 3072
PRESSES_PER_DIRECTION = 15

# The reconstruction is the st.image whose caption starts with "Rank " (side-by-side view).
SCRUBBER = "image_scrub"  # the image page's rank scrubber (its carrier is SCRUBBER + "_payload")
_FRAME_JS = """() => {
  for (const host of document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')) {
    const root = host.shadowRoot && host.shadowRoot.querySelector('.lrs-root');
    if (root) return root.dataset.status === 'ready' ? root.dataset.frame : null;
  }
  return null;
}"""
_CHANGED_JS = "(old) => { const now = (" + _FRAME_JS + ")(); return now !== null && now !== old; }"
# the address names the settled rank, or leaves it out when it is the page's default (``bare``)
_SETTLED_JS = ("([rank, bare]) => new RegExp('[?&]rank=' + rank + '(&|$)').test(location.search)"
               " || (rank === bare && !/[?&]rank=/.test(location.search))")
_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


# ============================================================================================== helpers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status_kb(pid: int, field_name: str) -> int | None:
    """A field of /proc/PID/status in kB (VmRSS, VmHWM), or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc/PID/stat (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def make_photos(count: int, folder: Path, size: tuple[int, int] = (1920, 1080)) -> list[Path]:
    """``count`` different JPEGs of ``size`` (width, height): each shipped photo, flipped and cropped
    differently, then resized (bicubic) when ``size`` is not 1920×1080."""
    import numpy as np
    import torch
    from PIL import Image

    from lowrank_core import sources

    paths = []
    for index in range(count):
        name = sources.PHOTO_NAMES[index % len(sources.PHOTO_NAMES)]
        variant = index // len(sources.PHOTO_NAMES)
        pixels = sources.sample_photo_1080p(name=name)  # (3, 1080, 1920)
        if variant % 2:
            pixels = pixels.flip(-1)
        if variant // 2 % 2:
            pixels = pixels.flip(-2)
        if variant >= 4:  # a centred crop, scaled back to 1080p
            crop = 40 * (variant - 3)
            cropped = pixels[None, :, crop:-crop, crop:-crop]  # (1, 3, h, w)
            pixels = torch.nn.functional.interpolate(cropped, size=(1080, 1920), mode="bilinear",
                                                     align_corners=False)[0].clamp(0, 1)
        array = (pixels.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        picture = Image.fromarray(array)
        if picture.size != tuple(size):
            picture = picture.resize(tuple(size), Image.Resampling.BICUBIC)
        path = folder / f"session{index}_{name}.jpg"
        picture.save(path, format="JPEG", quality=90)
        paths.append(path)
    return paths


def _children_rss_kb(pid: int) -> int:
    """Resident memory of the processes whose parent is ``pid`` (the decoders' fork server), in kB."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # ppid
            total += _status_kb(int(entry.name), "VmRSS") or 0
    return total


class Server:
    """``streamlit run app.py`` on a free loopback port, with a thread polling its resident memory."""

    def __init__(self, log_path: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(self.port), "--server.address", "127.0.0.1",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.peak_rss_kb = 0
        self.idle_rss_kb = 0
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, daemon=True)

    def wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.read().decode() == "ok":
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start (see {self._log.name})")
            time.sleep(0.25)
        self.idle_rss_kb = _status_kb(self.proc.pid, "VmRSS") or 0
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.1):
            rss = _status_kb(self.proc.pid, "VmRSS")
            if rss is None:
                return
            self.peak_rss_kb = max(self.peak_rss_kb, rss)

    def stop(self) -> None:
        """Read the high-water mark, then SIGTERM, wait, and kill this process only if it lingers."""
        self._stop.set()
        high_water = _status_kb(self.proc.pid, "VmHWM")
        if high_water:
            self.peak_rss_kb = max(self.peak_rss_kb, high_water)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# ============================================================================================== session


@dataclass
class SessionResult:
    index: int
    photo: str
    completed: bool = False
    upload_seconds: float = math.nan
    latencies: list[float] = field(default_factory=list)  # settled rank sent (ws) or key press -> rerun done
    picture_latencies: list[float] = field(default_factory=list)  # key press -> changed canvas (chromium)
    move_bytes: list[int] = field(default_factory=list)  # websocket bytes a move's rerun brought (ws)
    errors: list[str] = field(default_factory=list)
    final_method: str | None = None  # the payload's SVD at the end (ws driver): "randomized" or "exact"
    queued: bool = False  # a "Queued (k ahead)" notice was shown while it waited


def _describe(err: Exception) -> str:
    """A failed session's error in one line: the type and the first line of the message."""
    lines = str(err).splitlines()
    return f"{type(err).__name__}: {lines[0][:200] if lines else ''}"


async def _wait_idle(page, timeout_ms: int) -> None:
    await page.wait_for_selector(_IDLE, timeout=timeout_ms)


async def _page_errors(page) -> list[str]:
    """Text of exception boxes and error alerts on the page."""
    found = []
    for test_id in ("stException", "stAlertContentError"):
        boxes = page.get_by_test_id(test_id)
        for i in range(await boxes.count()):
            found.append(f"{test_id}: {(await boxes.nth(i).inner_text())[:200]}")
    return found


async def run_session(browser, url: str, photo: Path, index: int, seconds: float,
                      press_timeout: float) -> SessionResult:
    """One user: open /image, upload the photo, then move the rank scrubber for ``seconds``."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    result = SessionResult(index, photo.name)
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.on("pageerror", lambda err: result.errors.append(f"page error: {err}"))
    try:
        await page.goto(f"{url}/image", timeout=120_000)
        await page.get_by_test_id("stRadio").filter(has_text="Image source").get_by_text(
            "Upload", exact=True).click(timeout=120_000)
        started = time.monotonic()
        await page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(photo), timeout=120_000)
        await page.wait_for_function(_FRAME_JS, timeout=180_000)
        result.upload_seconds = time.monotonic() - started
        await _wait_idle(page, 180_000)
        await page.wait_for_timeout(800)  # the rerun the scrubber's "ready" starts
        await _wait_idle(page, 180_000)
        result.errors.extend(await _page_errors(page))
        slider = page.locator("input.lrs-range")
        rank = int(await slider.input_value())
        bare = rank if "rank=" not in page.url else None  # the default rank, which the address leaves out
        presses = 0
        stop_at = time.monotonic() + seconds
        while time.monotonic() < stop_at and not result.errors:
            key = "ArrowRight" if presses // PRESSES_PER_DIRECTION % 2 == 0 else "ArrowLeft"
            rank += 1 if key == "ArrowRight" else -1
            before = await page.evaluate(_FRAME_JS)
            start = time.perf_counter()
            await slider.press(key)
            try:
                await page.wait_for_function(_CHANGED_JS, arg=before, timeout=press_timeout * 1000)
                result.picture_latencies.append(time.perf_counter() - start)
                await page.wait_for_function(_SETTLED_JS, arg=[rank, bare], timeout=press_timeout * 1000)
                await _wait_idle(page, int(press_timeout * 1000))
            except PlaywrightTimeout:
                result.errors.append(f"timeout: rank {rank} not shown and settled {press_timeout:g} s "
                                     f"after {key}")
                break
            result.latencies.append(time.perf_counter() - start)
            presses += 1
            result.errors.extend(await _page_errors(page))
        result.completed = not result.errors and presses > 0
    except Exception as err:  # noqa: BLE001 - any failure of a session is reported, not raised
        result.errors.append(_describe(err))
    finally:
        await context.close()
    return result


async def open_upload(client, result: SessionResult) -> None:
    """Connect, open /image and choose "Upload" (errors go to ``result``)."""
    await client.connect()
    opened = await client.rerun(timeout=120, want_image=False)
    client.set_string("image_source", "Upload")
    chosen = await client.rerun(timeout=120, want_image=False)
    result.errors.extend([f"open: {e}" for e in opened.errors]
                         + [f"choose Upload: {e}" for e in chosen.errors])


async def upload_until_first_image(client, result: SessionResult, photo: Path, *, timeout: float) -> None:
    """Upload ``photo`` and wait until its first reconstruction can be drawn: the run that sends the rank
    scrubber its payload, then the rerun its "ready" starts (as the browser's scrubber reports it once it
    has drawn). Sets ``upload_seconds``, ``queued`` and errors."""
    started = time.monotonic()
    await client.upload("image_upload", photo.name, photo.read_bytes(), "image/jpeg", timeout=timeout)
    run = await client.rerun(timeout=timeout, want_image=False)
    result.errors.extend(f"upload: {e}" for e in run.errors)
    result.queued = bool(run.queued)
    client.report_ready(SCRUBBER)  # the scrubber has drawn its first picture: one rerun
    ready = await client.rerun(timeout=timeout, want_image=False)
    result.upload_seconds = time.monotonic() - started
    result.errors.extend(f"scrubber ready: {e}" for e in ready.errors)
    result.queued = result.queued or bool(ready.queued)


async def run_ws_session(url: str, photo: Path, index: int, seconds: float,
                         press_timeout: float) -> SessionResult:
    """One user through the websocket protocol: open /image, upload, move the scrubber for ``seconds``."""
    from streamlit_client import StreamlitClient

    from lowrank_core.scrub import read_header

    result = SessionResult(index, photo.name)
    client = StreamlitClient(url, "image", watch_caption="Rank ")
    try:
        await open_upload(client, result)
        await upload_until_first_image(client, result, photo, timeout=180)
        data = client.component_data(SCRUBBER)
        value, low, high = data["command"]["rank"], data["min_rank"], data["max_rank"]
        presses = 0
        stop_at = time.monotonic() + seconds
        while time.monotonic() < stop_at and not result.errors:
            step = 1 if presses // PRESSES_PER_DIRECTION % 2 == 0 else -1
            value = min(high, max(low, value + step))
            client.settle(SCRUBBER, value)
            run = await client.rerun(timeout=press_timeout, want_image=False)
            if run.errors:
                result.errors.extend(f"move to rank {value:g}: {e}" for e in run.errors)
                break
            result.latencies.append(run.finished_seconds)
            result.move_bytes.append(run.bytes_received)
            presses += 1
        carrier = client.elements[client.widget_id(SCRUBBER + "_payload")]
        result.final_method = read_header(carrier.bytes).method
        result.completed = not result.errors and presses > 0
    except Exception as err:  # noqa: BLE001 - any failure of a session is reported, not raised
        result.errors.append(_describe(err))
    finally:
        await client.close()
    return result


async def run_upload_session(url: str, photo: Path, index: int, barrier: asyncio.Barrier | None,
                             timeout: float) -> SessionResult:
    """One user arriving: open /image, choose Upload, wait for the others (``barrier``), upload, see the first
    reconstruction, leave. ``upload_seconds`` is the time from the upload to that first image."""
    from streamlit_client import StreamlitClient

    result = SessionResult(index, photo.name)
    client = StreamlitClient(url, "image", watch_caption="Rank ")
    try:
        await open_upload(client, result)
        if barrier is not None:
            await barrier.wait()
        await upload_until_first_image(client, result, photo, timeout=timeout)
        result.completed = not result.errors
    except Exception as err:  # noqa: BLE001 - any failure of a session is reported, not raised
        result.errors.append(_describe(err))
    finally:
        await client.close()
    return result


async def run_upload_sessions(url: str, photos: list[Path], timeout: float) -> list[SessionResult]:
    """``run_upload_session`` for each photo, all uploading at the same moment."""
    barrier = asyncio.Barrier(len(photos)) if len(photos) > 1 else None
    return list(await asyncio.gather(*(run_upload_session(url, photo, i, barrier, timeout)
                                        for i, photo in enumerate(photos))))


async def visit(url: str) -> None:
    """Open /image and leave: the server loads the app (and the default sample), as after any first visit."""
    from streamlit_client import StreamlitClient

    client = StreamlitClient(url, "image", watch_caption="Rank ")
    try:
        await client.connect()
        await client.rerun(timeout=180, want_image=False)
    finally:
        await client.close()


def warm_idle_rss_kb(server: Server, settle: float) -> int:
    """The server's RSS after one visit that loaded the app and left, ``settle`` seconds later."""
    asyncio.run(visit(server.url))
    time.sleep(settle)
    return _status_kb(server.proc.pid, "VmRSS") or 0


async def run_sessions(url: str, photos: list[Path], seconds: float, press_timeout: float,
                       driver: str = "ws") -> list[SessionResult]:
    if driver == "ws":
        return list(await asyncio.gather(*(run_ws_session(url, photo, i, seconds, press_timeout)
                                            for i, photo in enumerate(photos))))
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            return list(await asyncio.gather(*(run_session(browser, url, photo, i, seconds, press_timeout)
                                                for i, photo in enumerate(photos))))
        finally:
            await browser.close()


# ============================================================================================ load test


@dataclass
class Room:
    """What a run with a server measured around its sessions (memory in kB)."""

    made_seconds: float = 0.0
    idle_kb: int = 0  # after one visit that loaded the app and left
    peak_kb: int = 0
    left_kb: int = 0  # ``--settle-seconds`` after every session left
    helpers_kb: int = 0  # the server's child processes (the decoders' fork server) at the end
    log_tail: str = ""


def with_server(args, photo_count: int, body) -> tuple[object, Room]:
    """Make ``photo_count`` photos, start a server (with a watchdog), measure its idle memory after a visit,
    run ``body(server, photos)``, wait for the sessions' memory to come back, stop the server."""
    server: Server | None = None
    room = Room()

    def watchdog():  # the run stops itself, whatever hangs
        print(f"hard timeout of {args.hard_timeout:g} s reached; stopping", file=sys.stderr, flush=True)
        if server is not None:
            server.stop()
        os._exit(3)

    timer = threading.Timer(args.hard_timeout, watchdog)
    timer.daemon = True
    timer.start()
    with tempfile.TemporaryDirectory(prefix="lowrank-load-") as folder:
        folder = Path(folder)
        made = time.perf_counter()
        photos = make_photos(photo_count, folder, args.photo_size)
        room.made_seconds = time.perf_counter() - made
        server = Server(folder / "server.log")
        try:
            server.wait_healthy()
            room.idle_kb = warm_idle_rss_kb(server, settle=5)
            outcome = body(server, photos)
            time.sleep(args.settle_seconds)  # the sessions closed their websockets: ui.sessions ends them
            room.left_kb = _status_kb(server.proc.pid, "VmRSS") or 0
            room.helpers_kb = _children_rss_kb(server.proc.pid)
        finally:
            server.stop()
            room.peak_kb = server.peak_rss_kb
            room.log_tail = (folder / "server.log").read_text(errors="replace")[-3000:]
    timer.cancel()
    return outcome, room


def memory_rows(args, room: Room) -> list[tuple]:
    """The memory lines of a table: idle, peak, after everyone left, and the fork server."""
    idle, peak, left = room.idle_kb / 1024, room.peak_kb / 1024, room.left_kb / 1024
    return [
        ("server RSS, idle (after one visit)", f"{idle:.0f} MB", "", None),
        ("server peak RSS", f"{peak:.0f} MB", f"<= {args.memory_budget_mb} MB",
         peak <= args.memory_budget_mb),
        (f"server RSS {args.settle_seconds:g} s after all left", f"{left:.0f} MB", "", None),
        ("  minus idle", f"{left - idle:+.0f} MB", f"<= {args.return_target_mb} MB",
         left - idle <= args.return_target_mb),
        ("decoders' fork server RSS (own process)", f"{room.helpers_kb / 1024:.0f} MB", "", None),
    ]


def print_table(title: str, rows: list[tuple], errors: list[str], room: Room) -> list[str]:
    """Print the table (and the first errors); returns the names of the targets missed."""
    load1, load5, _ = os.getloadavg()
    print(title)
    print(f"machine: {os.cpu_count()} CPUs, load average {load1:.1f} (1 min) {load5:.1f} (5 min) at the end")
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>14}  {'target':<14}  ok")
    for name, value, target, ok in rows:
        mark = "" if ok is None else ("yes" if ok else "NO")
        print(f"{name.ljust(width)}  {value:>14}  {target:<14}  {mark}")
    for error in errors[:20]:
        print("error:", error)
    if errors and "Traceback" in room.log_tail:
        print("server log (tail):\n" + room.log_tail)
    return [name for name, _, _, ok in rows if ok is False]


def load_test(args) -> int:
    if args.driver == "chromium" and not Path(CHROMIUM).exists():
        print(f"needs Debian's chromium at {CHROMIUM} (apt-get install -y chromium)", file=sys.stderr)
        return 2

    def body(server: Server, photos: list[Path]) -> dict:
        alone: list[SessionResult] = []
        if args.baseline_seconds > 0:  # the last photo: the baseline's
            alone = asyncio.run(run_sessions(server.url, photos[-1:], args.baseline_seconds,
                                             args.press_timeout, args.driver))
        baseline_peak_mb = server.peak_rss_kb / 1024
        started, cpu_before = time.perf_counter(), _cpu_seconds(server.proc.pid)
        results = asyncio.run(run_sessions(server.url, photos[:-1], args.seconds, args.press_timeout,
                                           args.driver))
        return {"alone": alone, "results": results, "baseline_peak_mb": baseline_peak_mb,
                "wall": time.perf_counter() - started,
                "server_cpu": _cpu_seconds(server.proc.pid) - cpu_before}

    outcome, room = with_server(args, args.sessions + 1, body)
    alone, results = outcome["alone"], outcome["results"]
    wall, server_cpu = outcome["wall"], outcome["server_cpu"]
    latencies = [x for r in results for x in r.latencies]
    alone_latencies = [x for r in alone for x in r.latencies]
    errors = [f"session {r.index}: {e}" for r in results for e in r.errors]
    errors += [f"baseline session: {e}" for r in alone for e in r.errors]
    completed = sum(r.completed for r in results)
    uploads = [r.upload_seconds for r in results if not math.isnan(r.upload_seconds)]
    p50, p95 = _percentile(latencies, 50), _percentile(latencies, 95)

    ends = [r.final_method for r in results if r.final_method is not None]
    exact_text = f"{ends.count('exact')} / {len(ends)}" if ends else "n/a"
    pictures = [x for r in results for x in r.picture_latencies]
    move_bytes = [x for r in results for x in r.move_bytes]
    rows = [
        ("sessions completed", f"{completed} / {args.sessions}", f"= {args.sessions}",
         completed == args.sessions),
        ("errors", str(len(errors)), "0", not errors),
        ("rank moves measured", str(len(latencies)), "> 0", bool(latencies)),
        ("settled rank -> rerun done p50", f"{p50:.3f} s", "", None),
        ("settled rank -> rerun done p95", f"{p95:.3f} s", f"<= {TARGET_P95_SECONDS} s",
         p95 <= TARGET_P95_SECONDS),
        ("settled rank -> rerun done max", f"{max(latencies, default=math.nan):.3f} s", "", None),
        ("key -> changed canvas p50 / p95", f"{_percentile(pictures, 50) * 1000:.0f} / "
         f"{_percentile(pictures, 95) * 1000:.0f} ms" if pictures else "n/a (ws)", "", None),
        ("websocket bytes a move, median", f"{statistics.median(move_bytes):,.0f} B" if move_bytes else
         "n/a (chromium)", "", None),
        ("baseline: 1 session alone, p50", f"{_percentile(alone_latencies, 50):.3f} s", "", None),
        ("baseline: 1 session alone, p95", f"{_percentile(alone_latencies, 95):.3f} s", "", None),
        ("p50 under load / alone", f"{p50 / _percentile(alone_latencies, 50):.1f}×" if alone_latencies
         else "n/a", "", None),
        ("upload -> first image, median", f"{statistics.median(uploads) if uploads else math.nan:.1f} s", "",
         None),
        ("upload -> first image, max", f"{max(uploads, default=math.nan):.1f} s", "", None),
        ("upload -> first image, alone", f"{alone[0].upload_seconds:.1f} s" if alone else "n/a", "", None),
        ("sessions shown \"Queued (k ahead)\"", f"{sum(r.queued for r in results)} / {args.sessions}", "",
         None),
        ("sessions with the exact SVD at the end", exact_text, "", None),
        ("server peak RSS, baseline session", f"{outcome['baseline_peak_mb']:.0f} MB", "", None),
        *memory_rows(args, room),
        ("server CPU during the N sessions", f"{server_cpu:.0f} s", "", None),
        ("server CPU / wall (cores busy)", f"{server_cpu / wall:.2f}", "", None),
    ]
    failed = print_table(
        f"Load test ({args.driver} driver): {args.sessions} sessions × {args.seconds:g} s of rank moves on "
        f"/image ({args.photo_size[0]}×{args.photo_size[1]} JPEG uploads; photos made in "
        f"{room.made_seconds:.1f} s; run took {wall:.0f} s)", rows, errors, room)
    print("per session: " + ", ".join(f"{r.index}:{len(r.latencies)} moves, p50 "
                                      f"{_percentile(r.latencies, 50):.2f} s, {r.final_method or '?'} SVD"
                                      for r in results))
    if args.json:
        print(json.dumps({"driver": args.driver, "sessions": args.sessions, "seconds": args.seconds,
                          "completed": completed,
                          "errors": errors, "presses": len(latencies), "p50": p50, "p95": p95,
                          "alone_p50": _percentile(alone_latencies, 50),
                          "alone_p95": _percentile(alone_latencies, 95), "peak_rss_mb": room.peak_kb / 1024,
                          "baseline_peak_rss_mb": outcome["baseline_peak_mb"],
                          "idle_rss_mb": room.idle_kb / 1024,
                          "left_rss_mb": room.left_kb / 1024, "server_cpu_s": server_cpu, "wall_s": wall}))
    if failed:
        print("FAILED targets: " + ", ".join(failed))
    return 1 if failed and not args.no_fail else 0


def uploads_at_once_test(args) -> int:
    """``--uploads-at-once N``: N uploads at the same moment against one alone (time to the first image)."""
    count = args.uploads_at_once

    def body(server: Server, photos: list[Path]) -> dict:
        alone = asyncio.run(run_upload_sessions(server.url, photos[-1:], args.upload_timeout))
        started, cpu_before = time.perf_counter(), _cpu_seconds(server.proc.pid)
        results = asyncio.run(run_upload_sessions(server.url, photos[:-1], args.upload_timeout))
        return {"alone": alone, "results": results, "wall": time.perf_counter() - started,
                "server_cpu": _cpu_seconds(server.proc.pid) - cpu_before}

    outcome, room = with_server(args, count + 1, body)
    alone, results = outcome["alone"], outcome["results"]
    errors = [f"session {r.index}: {e}" for r in results for e in r.errors]
    errors += [f"alone: {e}" for r in alone for e in r.errors]
    times = [r.upload_seconds for r in results if r.completed]
    alone_time = alone[0].upload_seconds if alone and alone[0].completed else math.nan
    p50, p95 = _percentile(times, 50), _percentile(times, 95)
    rows = [
        ("sessions completed", f"{len(times)} / {count}", f"= {count}", len(times) == count),
        ("errors", str(len(errors)), "0", not errors),
        ("upload -> first image, 1 alone", f"{alone_time:.1f} s", "", None),
        (f"upload -> first image, {count} at once, p50", f"{p50:.1f} s", "", None),
        (f"upload -> first image, {count} at once, p95", f"{p95:.1f} s", "", None),
        (f"upload -> first image, {count} at once, min", f"{min(times, default=math.nan):.1f} s", "", None),
        ("p50 / alone", f"{p50 / alone_time:.1f}×", "", None),
        ("p95 / alone", f"{p95 / alone_time:.1f}×", "", None),
        ("sessions shown \"Queued (k ahead)\"", f"{sum(r.queued for r in results)} / {count}", "", None),
        *memory_rows(args, room),
        ("server CPU during the uploads", f"{outcome['server_cpu']:.0f} s", "", None),
    ]
    failed = print_table(
        f"Uploads at once: {count} sessions upload a {args.photo_size[0]}×{args.photo_size[1]} JPEG to "
        "/image "
        f"at the same moment (photos made in {room.made_seconds:.1f} s; the uploads took "
        f"{outcome['wall']:.0f} s)", rows, errors, room)
    print("per session (s): " + ", ".join(f"{r.upload_seconds:.1f}{' q' if r.queued else ''}"
                                          for r in sorted(results, key=lambda r: r.upload_seconds)))
    if args.json:
        print(json.dumps({"uploads_at_once": count, "photo_size": list(args.photo_size), "times": times,
                          "alone": alone_time, "p50": p50, "p95": p95, "errors": errors,
                          "queued": sum(r.queued for r in results), "idle_rss_mb": room.idle_kb / 1024,
                          "peak_rss_mb": room.peak_kb / 1024, "left_rss_mb": room.left_kb / 1024,
                          "helpers_rss_mb": room.helpers_kb / 1024}))
    if failed:
        print("FAILED targets: " + ", ".join(failed))
    return 1 if failed and not args.no_fail else 0


# ======================================================================================== memory budget


def _rss_mb() -> float:
    return (_status_kb(os.getpid(), "VmRSS") or 0) / 1024


def budget_child() -> None:
    """In a fresh process: RSS growth of loading and factorizing the largest accepted image (JSON out)."""
    import numpy as np
    import torch
    from PIL import Image

    from lowrank_core import image as codec_core
    from lowrank_core import sources

    side = math.isqrt(sources.DEFAULT_MAX_PIXELS)  # 2000: the square image has the largest factors
    photo = sources.sample_photo_1080p(name="astronaut")  # (3, 1080, 1920)
    big = torch.nn.functional.interpolate(photo[None], size=(side, side), mode="bilinear",
                                          align_corners=False)[0].clamp(0, 1)
    buffer = io.BytesIO()
    Image.fromarray((big.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(buffer, "PNG")
    data = buffer.getvalue()
    del photo, big
    torch.linalg.svd(torch.rand(64, 64))  # load LAPACK before the baseline
    base = _rss_mb()
    try:  # reset the kernel's high-water mark to the current RSS (Linux >= 4.0)
        Path(f"/proc/{os.getpid()}/clear_refs").write_text("5")
    except OSError:
        pass
    loaded = sources.load_image(data, name="largest.png")
    after_load = _rss_mb()
    codec = codec_core.prepare_codec(loaded.pixels, "rgb", method="exact")
    after_codec = _rss_mb()
    peak = (_status_kb(os.getpid(), "VmHWM") or 0) / 1024
    f = codec.factorization
    tensors = (("pixels", loaded.pixels), ("U", f.U), ("S", f.S), ("Vh", f.Vh), ("a", codec.a))
    sizes = {name: tensor.numel() * tensor.element_size() / 1e6 for name, tensor in tensors}
    print(json.dumps({"shape": list(loaded.pixels.shape), "file_mb": len(data) / 1e6, "sizes_mb": sizes,
                      "rss_base_mb": base, "rss_after_load_mb": after_load, "rss_after_codec_mb": after_codec,
                      "rss_peak_mb": peak, "threads": torch.get_num_threads()}))


def budget(args) -> int:
    run = subprocess.run([sys.executable, __file__, "--budget-child"], capture_output=True, text=True,
                         cwd=ROOT, timeout=600)
    if run.returncode != 0:
        print(run.stderr, file=sys.stderr)
        return 1
    report = json.loads(run.stdout.strip().splitlines()[-1])
    sizes = report["sizes_mb"]
    C, H, W = report["shape"]
    factors = sizes["U"] + sizes["S"] + sizes["Vh"]
    print(f"Largest accepted image: {W}×{H} RGB (DEFAULT_MAX_PIXELS; larger uploads are downscaled to it), "
          f"PNG of {report['file_mb']:.1f} MB")
    print(f"{'tensor':<28} {'shape':<18} {'MB':>8}")
    k = min(H, W)
    for name, shape in (("pixels (float32)", (C, H, W)), ("U", (C, H, k)), ("S", (C, k)), ("Vh", (C, k, W)),
                        ("a = U·diag(S) (page)", (C, H, k))):
        key = name.split()[0]
        print(f"{name:<28} {str(shape):<18} {sizes[key]:>8.1f}")
    print(f"{'U + S + Vh':<28} {'':<18} {factors:>8.1f}")
    print(f"{'codec held (U, S, Vh, a)':<28} {'':<18} {factors + sizes['a']:>8.1f}")
    print()
    base = report["rss_base_mb"]
    print(f"RSS before: {base:.0f} MB; after load_image: +{report['rss_after_load_mb'] - base:.0f} MB; "
          f"after prepare_codec (exact): +{report['rss_after_codec_mb'] - base:.0f} MB held; "
          f"peak during both (VmHWM) +{report['rss_peak_mb'] - base:.0f} MB "
          f"({report['threads']} torch threads)")
    return 0


def _size(text: str) -> tuple[int, int]:
    """'4000x3000' -> (4000, 3000)."""
    width, height = (int(part) for part in text.lower().split("x"))
    if width < 16 or height < 16:
        raise argparse.ArgumentTypeError("sizes start at 16x16")
    return width, height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8, help="concurrent sessions (default 8)")
    parser.add_argument("--photo-size", type=_size, default=(1920, 1080), metavar="WxH",
                        help="size of the uploaded JPEGs (default 1920x1080; 4000x3000 is a phone photo, "
                             "which the loader downscales to 4 megapixels)")
    parser.add_argument("--driver", choices=("ws", "chromium"), default="ws",
                        help="websocket protocol clients (default) or headless chromium pages")
    parser.add_argument("--seconds", type=float, default=60, help="seconds of rank moves (default 60)")
    parser.add_argument("--baseline-seconds", type=float, default=20,
                        help="seconds of one session alone first, the baseline of the ratios (0: none)")
    parser.add_argument("--press-timeout", type=float, default=30,
                        help="seconds a key press may take before it counts as an error (default 30)")
    parser.add_argument("--memory-budget-mb", type=int, default=DEFAULT_BUDGET_MB,
                        help=f"server peak RSS target in MB (default {DEFAULT_BUDGET_MB})")
    parser.add_argument("--hard-timeout", type=float, default=None,
                        help="stop everything after this many seconds (default: seconds + 300)")
    parser.add_argument("--uploads-at-once", type=int, default=0, metavar="N",
                        help="N sessions upload at the same moment (time to first image) instead of the "
                             "slider test")
    parser.add_argument("--upload-timeout", type=float, default=300,
                        help="seconds an upload may take to show its first image (default 300)")
    parser.add_argument("--settle-seconds", type=float, default=60,
                        help="seconds after every session left before the server's RSS is read again "
                             "(default 60)")
    parser.add_argument("--return-target-mb", type=int, default=300,
                        help="MB the RSS after everyone left may exceed the idle server by (default 300)")
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even when a target fails")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--budget", action="store_true", help="measure the memory budget instead")
    parser.add_argument("--budget-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.budget_child:
        budget_child()
        return 0
    if args.budget:
        return budget(args)
    if args.sessions < 1 or args.seconds <= 0 or args.uploads_at_once < 0:
        parser.error("--sessions must be >= 1, --seconds > 0 and --uploads-at-once >= 0")
    if args.uploads_at_once:
        if args.hard_timeout is None:
            args.hard_timeout = 2 * args.upload_timeout + args.settle_seconds + 300
        return uploads_at_once_test(args)
    if args.hard_timeout is None:
        args.hard_timeout = args.seconds + args.baseline_seconds + args.settle_seconds + 400
    return load_test(args)


if __name__ == "__main__":
    sys.exit(main())
