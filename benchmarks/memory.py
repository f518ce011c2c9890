"""Peak memory of loading the largest files the loaders accept, and of the files built to exhaust them.

    python benchmarks/memory.py                 # every case, each in a fresh process; a Markdown table
    python benchmarks/memory.py --cases float-tiff-49mp csv-one-line-100mb

Each case runs in its own fresh Python process, which builds its input in memory, resets the kernel's
high-water mark of its resident memory (``/proc/self/clear_refs``), loads the input through the public API
(``load_image``, or the command line's ``info`` for the CSV) and reports:

- **loader process**: how far its resident memory rose above where it was (VmHWM - VmRSS before);
- **decoder child**: where the image loader decodes in a child process (``sources.isolation``), how far that
  child's resident memory rose (measured by the child itself, in a second decode of the same input);
- the outcome, and the wall time.

The same script run on an older checkout (``PYTHONPATH=that/checkout``) measures the code before a change:
the loader column means the same there (with no child, the decoder column is "–": the decoding is in the
loader's own peak).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus" / "files"


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _encode(image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _photo(width: int, height: int):
    """A photograph at any size: a shipped photo resized (Pillow, bicubic)."""
    from PIL import Image

    from lowrank_core import sources

    with Image.open(io.BytesIO(sources.sample_bytes("astronaut")), formats=["JPEG", "PNG"]) as source:
        return source.convert("RGB").resize((width, height), Image.Resampling.BICUBIC)


def _float_tiff() -> bytes:
    import numpy as np
    from PIL import Image

    values = np.linspace(-50, 1000, 7000 * 7000, dtype=np.float32).reshape(7000, 7000)
    return _encode(Image.fromarray(values, mode="F"), "TIFF")


def _rgba_png() -> bytes:
    import numpy as np
    from PIL import Image

    rows, cols = np.mgrid[0:7000, 0:7100]
    rgba = np.stack([cols % 256, rows % 256, (rows + cols) % 256, 128 + (rows % 128)], axis=-1)
    rgba = rgba.astype(np.uint8)
    return _encode(Image.fromarray(rgba, mode="RGBA"), "PNG", compress_level=1)


def _one_line_csv() -> bytes:
    return b"12," * (100_000_000 // 3)


CASES = {  # name -> (what, input maker, loader)
    "jpeg-12mp": ("4000×3000 JPEG (a phone photo)", lambda: _encode(_photo(4000, 3000), "JPEG", quality=90),
                  "image"),
    "progressive-jpeg-49mp": ("7000×7000 progressive JPEG",
                              lambda: _encode(_photo(7000, 7000), "JPEG", quality=90, progressive=True),
                              "image"),
    "rgba-png-50mp": ("7100×7000 RGBA PNG (49.7 MP)", _rgba_png, "image"),
    "float-tiff-49mp": ("7000×7000 float32 TIFF (mode F, values −50..1000)", _float_tiff, "image"),
    "tiff-tile-bomb": ("bomb_tiff_tile.tif: 238 bytes, one 16384×43680 tile",
                       lambda: (CORPUS / "bomb_tiff_tile.tif").read_bytes(), "image"),
    "jpeg-scan-bomb": ("bomb_jpeg_scans.jpg: 260 scans",
                       lambda: (CORPUS / "bomb_jpeg_scans.jpg").read_bytes(), "image"),
    "csv-one-line-100mb": ("100 MB one-line CSV through `info` (33 M cells; 4 M allowed)", _one_line_csv,
                           "cli"),
}


def run_case(name: str) -> dict:
    """In a fresh process: build the input, then load it and measure (see the module's docstring)."""
    import torch  # noqa: F401 - loaded before the baseline, as in the app

    from lowrank_core.errors import LowRankError
    from lowrank_core.sources import load_image

    what, make, loader = CASES[name]
    data = make()
    path = None
    if loader == "cli":
        path = Path(tempfile.mkdtemp()) / "line.csv"
        path.write_bytes(data)
        del data
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS from here
    before = _status_kb("VmRSS")
    started = time.perf_counter()
    try:
        if loader == "image":
            outcome = "ok " + "×".join(map(str, load_image(data, name=name).pixels.shape))
        else:
            from contextlib import redirect_stderr, redirect_stdout

            from lowrank_core.cli import main as cli_main

            with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()) as err:
                status = cli_main(["info", str(path)])
            outcome = f"exit {status}: " + err.getvalue().strip()[:90]
    except LowRankError as error:
        outcome = f"{type(error).__name__}: {str(error)[:90]}"
    seconds = time.perf_counter() - started
    loader_mb = (_status_kb("VmHWM") - before) / 1024
    return {"case": name, "what": what, "outcome": outcome, "seconds": seconds, "loader_mb": loader_mb,
            "child_mb": _child_peak_mb(data) if loader == "image" else None}


def _child_peak_mb(data: bytes) -> float | None:
    """The decoder child's own peak for ``data`` (None where the loader has no child, or it refused)."""
    try:
        from lowrank_core import limits
        from lowrank_core.sources.image_decode import decode_image
        from lowrank_core.sources.isolation import run_isolated
    except ImportError:  # an older checkout: decoding is in the loader's process
        return None
    from lowrank_core.errors import LowRankError

    try:
        result = run_isolated(decode_image, data, limits.DEFAULT_MAX_PIXELS, "x", label="x",
                              cpu_seconds=limits.DECODE_CPU_SECONDS, memory_bytes=limits.DECODE_MEMORY_BYTES,
                              wall_seconds=limits.DECODE_WALL_SECONDS,
                              max_result_bytes=3 * limits.DEFAULT_MAX_PIXELS * 4)
    except LowRankError:
        return None
    return result.peak_bytes / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--case-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case_child:
        print(json.dumps(run_case(args.case_child)))
        return 0
    print("| input | outcome | loader process peak | decoder child peak | time |")
    print("| --- | --- | --- | --- | --- |")
    for name in args.cases:
        run = subprocess.run([sys.executable, __file__, "--case-child", name], capture_output=True, text=True,
                             cwd=Path.cwd(), env=os.environ, timeout=900)
        if run.returncode != 0:
            print(f"| {CASES[name][0]} | failed: {run.stderr.strip().splitlines()[-1:]} | | | |")
            continue
        report = json.loads(run.stdout.strip().splitlines()[-1])
        outcome = report["outcome"].replace("|", "\\|")
        child = "–" if report["child_mb"] is None else f"+{report['child_mb']:.0f} MB"
        print(f"| {report['what']} | {outcome} | +{report['loader_mb']:.0f} MB | {child} | "
              f"{report['seconds']:.1f} s |")
    load1, load5, _ = os.getloadavg()
    print(f"\n{os.cpu_count()} CPUs, load average {load1:.1f} (1 min) {load5:.1f} (5 min) at the end")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
