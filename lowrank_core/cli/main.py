"""The parser and the entry point of ``python -m lowrank_core``: user errors become exit status 2 and one
line on stderr, never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from .. import checkpoint as checkpoints
from ..allocation import ALLOCATIONS
from ..errors import InputError, LowRankError
from ..image import COLOR_MODES
from ..image.tiles import TILE_SIDES
from .compress import DTYPES, compress_image, format_compress
from .demo import demo_report, format_demo
from .files import IMAGE_EXTENSIONS, MATRIX_EXTENSIONS
from .info import format_info, info_report
from .model import compress_model_file, format_model, model_report

__all__ = ["build_parser", "compress_images", "main"]

BATCH_FORMATS = {"png": ".png", "jpg": ".jpg", "webp": ".webp"}  # what a folder of outputs is written as


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``python -m lowrank_core``."""
    parser = _Parser(prog="python -m lowrank_core",
                     description="Low-rank approximation on torch, from a shell.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{demo,info,compress,model}")

    demo = commands.add_parser("demo", help="replay the notebook: a rank-4 15×15 matrix and its factors")
    demo.add_argument("--seed", type=int, default=0, help="seed of W, x and bias (default 0)")
    demo.add_argument("--json", action="store_true", help="print the report as JSON")

    info = commands.add_parser("info", help="describe an image or a matrix file")
    info.add_argument("file", help="image (" + " ".join(IMAGE_EXTENSIONS) + ") or matrix ("
                      + " ".join(MATRIX_EXTENSIONS) + ")")
    info.add_argument("--json", action="store_true", help="print the report as JSON")

    compress = commands.add_parser("compress", help="write low-rank versions of images, as the image page")
    compress.add_argument("images", nargs="+", metavar="IMAGE", help="input images, or a folder of them")
    rule = compress.add_mutually_exclusive_group(required=True)
    rule.add_argument("--rank", type=int, help="keep this many singular values per channel (luma in YCbCr)")
    rule.add_argument("--energy", type=float,
                      help="smallest rank whose written file keeps this fraction of ‖x‖² (0-1]")
    rule.add_argument("--psnr", type=float, help="smallest rank whose written file reaches this PSNR in dB")
    rule.add_argument("--bytes", type=int, dest="budget_bytes", metavar="N",
                      help="largest rank whose factor payload fits in N bytes")
    compress.add_argument("--mode", choices=COLOR_MODES, default="rgb", help="colour mode (default rgb)")
    compress.add_argument("--chroma-rank", type=int,
                          help="YCbCr with --rank: the chroma rank (default rank/4)")
    compress.add_argument("--dtype", choices=DTYPES, default="float32",
                          help="precision of the stored factors the image is rebuilt from (default float32)")
    compress.add_argument("--tiles", type=int, choices=TILE_SIDES, metavar="S",
                          help="code in S×S tiles (8, 16, 32, 64), a rank per tile; with --bytes or --psnr")
    compress.add_argument("-o", "--output", required=True,
                          help="the output image (format from its extension); a folder for several inputs")
    compress.add_argument("--factors", metavar="OUT",
                          help="also write the factors (.npz, as the page; a folder for several inputs)")
    compress.add_argument("--format", choices=tuple(BATCH_FORMATS), default="png",
                          help="the format of the images written into an output folder (default png)")
    compress.add_argument("--json", action="store_true", help="print the report as JSON")

    model = commands.add_parser("model", help="list a checkpoint's weights; with --budget, write it factored")
    model.add_argument("file", help="checkpoint (" + " ".join(checkpoints.CHECKPOINT_EXTENSIONS) + ")")
    model.add_argument("--budget", type=float,
                       help="fraction of the weights' parameters to keep, in (0, 1]; needs -o")
    model.add_argument("-o", "--output", help="the factored checkpoint to write (.safetensors)")
    model.add_argument("--allocation", choices=ALLOCATIONS, default="greedy",
                       help="how the budget is shared across layers (default greedy)")
    model.add_argument("--method", choices=("auto", "exact", "randomized"), default="auto",
                       help="the SVD of each weight (default auto: exact up to "
                       f"{checkpoints.EXACT_MAX_ENTRIES:,} entries)")
    model.add_argument("--rank-pattern", help="also write the {name: rank} JSON to this file")
    model.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def _inputs(images: Sequence[str]) -> list[Path]:
    """The image files named, a folder standing for the images in it (sorted); InputError when none."""
    found: list[Path] = []
    for name in images:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        else:
            found.append(path)
    if not found:
        raise InputError(f"no image ({' '.join(IMAGE_EXTENSIONS)}) in {', '.join(map(repr, images))}")
    return found


def _progress(done: int, total: int, name: str) -> None:
    """A one-line progress bar on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        return
    filled = round(24 * done / total)
    end = "\n" if done == total else ""
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (24 - filled)}] {done}/{total} {name[:40]:<40}{end}")
    sys.stderr.flush()


def compress_images(args: argparse.Namespace) -> tuple[dict | list[dict], list[str]]:
    """``compress`` over one image (a report) or several (a list of reports; a failed one has "error")."""
    options = {"rank": args.rank, "energy": args.energy, "psnr_db": args.psnr,
               "budget_bytes": args.budget_bytes, "mode": args.mode, "chroma_rank": args.chroma_rank,
               "dtype": args.dtype, "tiles": args.tiles}
    inputs = _inputs(args.images)
    if len(inputs) == 1 and not Path(args.images[0]).is_dir():
        return compress_image(inputs[0], args.output, factors_path=args.factors, **options), []
    folder = Path(args.output)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"several inputs need -o to be a folder; {str(folder)!r} is a file")
    folder.mkdir(parents=True, exist_ok=True)
    factors = Path(args.factors) if args.factors else None
    if factors is not None:
        factors.mkdir(parents=True, exist_ok=True)
    reports, errors = [], []
    suffix = ".lrt" if args.tiles else ".npz"
    for done, path in enumerate(inputs, start=1):
        try:
            reports.append(compress_image(
                path, folder / (path.stem + BATCH_FORMATS[args.format]),
                factors_path=None if factors is None else factors / (path.stem + suffix), **options))
        except (LowRankError, OSError) as err:
            message = " ".join(str(err).split()) or type(err).__name__
            reports.append({"input": str(path), "error": message})
            errors.append(f"{path}: {message}")
        _progress(done, len(inputs), path.name)
    return reports, errors


def _format_many(reports: list[dict]) -> str:
    """Several compress reports, one block each."""
    return "\n\n".join(f"{r['input']}: error: {r['error']}" if "error" in r else format_compress(r)
                       for r in reports)


def _run(args: argparse.Namespace) -> tuple[str, list[str]]:
    """Run the chosen command; return what to print and the errors of a batch."""
    errors: list[str] = []
    if args.command == "demo":
        report, text = demo_report(args.seed), format_demo
    elif args.command == "info":
        report, text = info_report(args.file), format_info
    elif args.command == "model":
        if (args.budget is None) != (args.output is None):
            raise LowRankError("--budget and -o go together: give both to write a factored checkpoint")
        if args.budget is None:
            report = model_report(args.file, method=args.method)
        else:
            report = compress_model_file(args.file, args.output, budget=args.budget,
                                         allocation=args.allocation, method=args.method,
                                         rank_pattern_path=args.rank_pattern)
        text = format_model
    else:
        report, errors = compress_images(args)
        text = _format_many if isinstance(report, list) else format_compress
    return (json.dumps(report, indent=2, allow_nan=False) if args.json else text(report)), errors


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 on success, 2 on bad input (one line on stderr, no traceback)."""
    args = build_parser().parse_args(argv)
    # Our own header check refuses bombs with one clear line; Pillow's warning would add two more.
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    try:
        output, errors = _run(args)
    except (LowRankError, OSError) as err:
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: not enough memory for this input", file=sys.stderr)
        return 2
    try:
        print(output)
        for error in errors:
            print(f"error: {error}", file=sys.stderr)
        sys.stdout.flush()
    except BrokenPipeError:  # `... | head`: the reader left; not an error of ours
        sys.stdout = open(os.devnull, "w")  # the interpreter's final flush stays silent
    return 2 if errors else 0
