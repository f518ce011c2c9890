"""``compress``: write a low-rank version of an image, as the image page would, and measure the file.

At parity with the image page: a colour mode (RGB, luminance, or YCbCr with its own chroma rank), the
precision the factors are stored at (the written image is rebuilt from factors rounded to it), and four rules
for the rank: a given rank, a share of the energy, a PSNR, or a byte budget for the factor payload. The
energy and PSNR rules meet their target as measured on the written file (``image.targets``, with the file's
own encoding in the loop), in every mode and precision. ``--factors`` writes the same .npz the page offers,
and ``--tiles`` codes the image tile by tile instead (``image.tiles``).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import torch

from .. import sources
from ..budget import size_ratio
from ..errors import InputError, LowRankError, RankError, UnsupportedFormatError
from ..image import COLOR_MODES, factors_file, original_sizes, prepare_codec, reference_image, to_uint8
from ..image import tiles as tile_codec
from ..image.pixels import to_pil
from ..image.targets import ranks_for_energy, ranks_for_psnr
from ..metrics import image_error, ssim
from .files import IMAGE_EXTENSIONS, finite, kind_of, output_format, read_file

__all__ = ["DTYPES", "LOSSY_FORMATS", "compress_image", "format_compress"]

DTYPES = ("float32", "float16", "int8")
LOSSY_FORMATS = ("JPEG", "WEBP", "GIF")  # formats whose file does not hold the 8-bit image exactly
_SAVE_OPTIONS = {"JPEG": {"quality": 95}, "WEBP": {"quality": 95}}


def _encoded(image: torch.Tensor, image_format: str) -> bytes:
    """The file of an 8-bit (C, H, W) image in ``image_format`` (quality 95 for the lossy ones)."""
    buffer = io.BytesIO()
    to_pil(image).save(buffer, format=image_format, **_SAVE_OPTIONS.get(image_format, {}))
    return buffer.getvalue()


def _decoded(data: bytes, channels: int, height: int, width: int, name: str) -> torch.Tensor:
    """A written file read back as the app reads any image, as 8-bit (channels, H, W)."""
    written = sources.load_image(data, max_pixels=height * width, name=name).pixels  # (C', H, W)
    if written.shape[0] == 3 and channels == 1:  # a format that stores grey as colour (GIF palettes)
        written = written.mean(0, keepdim=True)
    return to_uint8(written)


def _rule(rank, energy, psnr_db, budget_bytes) -> tuple[str, float | int]:
    """The one rule given, and its target."""
    given = {name: value for name, value in (("rank", rank), ("energy", energy), ("psnr", psnr_db),
                                              ("bytes", budget_bytes)) if value is not None}
    if len(given) != 1:
        raise LowRankError(f"give exactly one of rank, energy, psnr or bytes; got {sorted(given) or 'none'}")
    return next(iter(given.items()))


def _check_options(mode: str, dtype: str, rule: str, chroma_rank, tiles) -> None:
    """Refuse option combinations that mean nothing, naming them."""
    if mode not in COLOR_MODES:
        raise LowRankError(f"--mode must be one of {', '.join(COLOR_MODES)}; got {mode!r}")
    if dtype not in DTYPES:
        raise LowRankError(f"--dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    if chroma_rank is not None and (mode != "ycbcr" or rule != "rank"):
        raise LowRankError("--chroma-rank goes with --mode ycbcr and --rank (the other rules choose both "
                           "ranks)")
    if tiles is not None and rule not in ("bytes", "psnr"):
        raise LowRankError("--tiles takes --bytes N or --psnr DB (the tile codec chooses a rank per tile)")


def compress_image(image_path: str | Path, output_path: str | Path, *, rank: int | None = None,
                   energy: float | None = None, psnr_db: float | None = None, budget_bytes: int | None = None,
                   mode: str = "rgb", chroma_rank: int | None = None, dtype: str = "float32",
                   factors_path: str | Path | None = None, tiles: int | None = None) -> dict:
    """Factorize an image in a colour mode, keep the ranks a rule gives, write the 8-bit image, measure it.

    Parameters
    ----------
    image_path, output_path : path
        The input image and the image to write (its format from the extension).
    rank, energy, psnr_db, budget_bytes : exactly one
        A rank (the luma rank in YCbCr), a share of ‖x‖² in (0, 1], a PSNR in dB, or a byte budget for the
        factor payload at ``dtype``. Energy and PSNR are met as measured on the written file.
    mode : {"rgb", "luminance", "ycbcr"}
    chroma_rank : int, optional
        YCbCr with ``rank``: the chroma rank (default ⌈rank / 4⌉).
    dtype : {"float32", "float16", "int8"}
        The precision the factors are stored at; the written image is rebuilt from them.
    factors_path : path, optional
        Also write the factors, the .npz the image page offers (with ``tiles``: the tile codec's file).
    tiles : int, optional
        Code the image in tiles of this side (8, 16, 32 or 64) with a rank per tile, for ``budget_bytes``
        or ``psnr_db``.

    Returns
    -------
    dict with keys input, output, width, height, channels, mode, dtype, rule, target, rank, ranks, method,
    energy_kept, psnr_predicted_db, target_met, psnr_db, ssim, relative_error, factor_payload_bytes (at
    ``dtype``), same_image_bytes {png, jpeg90, jpeg75} (this image encoded by Pillow: what one would store
    instead), input_file_bytes, output_file_bytes, factors_file, factors_file_bytes (the real size on disk),
    then for reference factor_bytes {float32, float16, int8}, compression_ratio_raw_to_float16 and
    raw_bytes (raw 8-bit pixels), and notices; with ``tiles`` also tile_side, rank_histogram and raw_tiles.
    An infinite or unknown value is None.
    """
    if kind_of(image_path) != "image":
        raise UnsupportedFormatError(
            f"{str(image_path)!r} is not an image; use one of {' '.join(IMAGE_EXTENSIONS)}"
        )
    image_format = output_format(output_path)  # refuse a bad output name before any work
    rule, target = _rule(rank, energy, psnr_db, budget_bytes)
    _check_options(mode, dtype, rule, chroma_rank, tiles)
    if factors_path is not None and tiles is None and Path(factors_path).suffix.lower() != ".npz":
        raise UnsupportedFormatError(f"the factors file {str(factors_path)!r} must end in .npz")
    data_in = read_file(image_path)
    loaded = sources.load_image(data_in, name=Path(image_path).name)
    pixels = loaded.pixels  # (C, H, W)
    reference = reference_image(pixels, mode)  # (C', H, W): what the file is measured against
    channels, height, width = reference.shape
    name = Path(output_path).name
    encode = None
    if image_format in LOSSY_FORMATS:
        def encode(image: torch.Tensor) -> torch.Tensor:
            return _decoded(_encoded(image, image_format), channels, height, width, name)

    notices = list(loaded.notices)
    if tiles is not None:
        report = _compress_tiles(pixels, reference, mode=mode, dtype=dtype, tile_side=tiles, rule=rule,
                                 target=target, lossy_format=image_format if encode else None)
    else:
        report = _compress_global(pixels, reference, mode=mode, dtype=dtype, rule=rule, target=target,
                                  chroma_rank=chroma_rank, encode=encode)
    shown, payload = report.pop("image"), report.pop("payload")
    data = _encoded(shown, image_format)
    try:
        Path(output_path).write_bytes(data)
        if factors_path is not None:
            Path(factors_path).write_bytes(payload())
    except OSError as err:
        raise InputError(f"cannot write {err.filename or output_path!r}: {err.strerror or err}") from err
    written = _decoded(read_file(output_path), channels, height, width, name)
    error = image_error(reference, written)
    measured = {"psnr": error.psnr, "energy": 1.0 - error.relative ** 2}
    report["target_met"] = None if rule in ("rank", "bytes") else bool(measured[rule] >= target)
    if report["target_met"] is False:
        notices.append(f"The written file reaches {measured[rule]:.6g}, short of the {rule} target {target}: "
                       f"{report.pop('short', 'the largest ranks stored cannot reach it')}.")
    report.pop("short", None)
    if image_format in LOSSY_FORMATS:
        notices.append(f"{image_format} is lossy: the numbers are of the written file, its loss included.")
    sizes = original_sizes(pixels, mode)
    tail = {key: report.pop(key) for key in ("factor_bytes", "compression_ratio_raw_to_float16")}
    return {
        "input": str(image_path), "output": str(output_path), "width": width, "height": height,
        "channels": channels, "mode": mode, "dtype": dtype, "rule": rule, "target": target, **report,
        "psnr_db": finite(error.psnr),
        "ssim": ssim(reference, written.float() / 255.0) if min(height, width) >= 11 else None,
        "relative_error": error.relative,
        # the bytes, against what anyone would store instead: this image's own PNG and JPEG
        "factor_payload_bytes": tail["factor_bytes"][dtype],
        "same_image_bytes": {key: sizes[key] for key in ("png", "jpeg90", "jpeg75")},
        "input_file_bytes": len(data_in),
        "output_file_bytes": Path(output_path).stat().st_size,
        "factors_file": None if factors_path is None else str(factors_path),
        "factors_file_bytes": None if factors_path is None else Path(factors_path).stat().st_size,
        # for reference only: raw 8-bit pixels, which nobody stores
        **tail, "raw_bytes": channels * height * width,
        "notices": notices,
    }


def _compress_global(pixels, reference, *, mode, dtype, rule, target, chroma_rank, encode) -> dict:
    """The global SVD's ranks for the rule, the 8-bit image and its report fields."""
    limit = min(pixels.shape[-2:])
    if rule == "rank":
        if not isinstance(target, int) or isinstance(target, bool) or not 1 <= target <= limit:
            raise RankError(f"rank must be between 1 and {limit} (the smaller side of the image); "
                            f"got {target}")
        chroma = math.ceil(target / 4) if chroma_rank is None else chroma_rank
        if mode == "ycbcr" and (not isinstance(chroma, int) or not 0 <= chroma <= limit):
            raise RankError(f"the chroma rank must be between 0 and {limit}; got {chroma}")
        largest = max(target, chroma if mode == "ycbcr" else 0)
        codec = prepare_codec(pixels, mode, method="auto", max_rank=largest)
        ranks = (target, chroma) if mode == "ycbcr" else (target,)
        short = None
    else:
        codec = prepare_codec(pixels, mode, method="exact")
        if rule == "bytes":
            ranks = codec.rank_for_bytes(int(target), dtype=dtype)
            if ranks[0] == 0:
                one = codec.storage(1).of(dtype)
                raise LowRankError(f"a byte budget of {target:,} does not fit rank 1 ({one:,} bytes at "
                                   f"{dtype})")
            short = None
        else:
            search = ranks_for_psnr if rule == "psnr" else ranks_for_energy
            found = search(codec, reference, target, dtype=dtype, encode=encode)
            ranks, short = found.ranks, None if found.met else (
                f"the largest ranks stored reach {found.value:.6g} at {dtype}")
    storage = codec.storage(ranks)
    lost = sum(float(codec.factorization.residual_energy().cpu()[c, r])
               for c, r in enumerate(codec.channel_ranks(ranks)))
    predicted_mse = lost / reference.numel()
    report = {
        "rank": int(ranks[0]), "ranks": [int(r) for r in ranks], "method": codec.method,
        "energy_kept": codec.energy_kept(ranks),
        "psnr_predicted_db": finite(10 * math.log10(1.0 / predicted_mse)) if predicted_mse > 0 else None,
        "factor_bytes": {kind: storage.of(kind) for kind in DTYPES},
        "compression_ratio_raw_to_float16": finite(storage.ratio("float16")),
        "image": to_uint8(codec.reconstruct(ranks, dtype=dtype)),
        "payload": lambda: factors_file(codec, ranks, dtype=dtype),
    }
    if short:
        report["short"] = short
    return report


def _compress_tiles(pixels, reference, *, mode, dtype, tile_side, rule, target, lossy_format) -> dict:
    """The tile codec's ranks for a byte budget or a PSNR, the 8-bit decode and its report fields.

    The PSNR rule is met on the tile file's own 8-bit decode; a lossy ``lossy_format`` written after it
    may lose some of it (the report's "short" says so).
    """
    if rule == "bytes":
        coded = tile_codec.compress_tiles(pixels, mode=mode, tile_side=tile_side, dtype=dtype,
                                          budget=int(target))
    else:
        coded = tile_codec.compress_tiles(pixels, mode=mode, tile_side=tile_side, dtype=dtype,
                                          target_psnr=float(target))
    total = coded.total_bytes
    short = None if lossy_format is None else (
        f"the tile file's own decode reaches {coded.measured_psnr:.6g}; the written {lossy_format} loses the "
        "rest (write a .png to keep it)")
    return {
        "rank": None, "ranks": None, "method": "tiles", "energy_kept": None,
        "psnr_predicted_db": finite(coded.predicted_psnr),
        "factor_bytes": {kind: (total if kind == dtype else None) for kind in DTYPES},
        "compression_ratio_raw_to_float16": finite(reference.numel() / total) if dtype == "float16" else None,
        "tile_side": int(tile_side), "rank_histogram": coded.histogram(), "raw_tiles": int(coded.raw_tiles),
        "image": coded.image, "payload": coded.to_bytes, **({"short": short} if short else {}),
    }


def format_compress(report: dict) -> str:
    """The compress report as lines of text."""
    def number(value, spec):
        return "n/a" if value is None else format(value, spec)

    tiled = bool(report.get("tile_side"))
    if tiled:
        counts = ", ".join(f"{rank}: {count:,}" for rank, count in report["rank_histogram"].items())
        ranks = f"{report['tile_side']}×{report['tile_side']} tiles (tiles at each rank {counts})"
    else:
        ranks = f"rank {'/'.join(map(str, report['ranks']))}"
    sizes, same = report["factor_bytes"], report["same_image_bytes"]
    payload = report["factor_payload_bytes"]
    against = [f"{size_ratio(payload, same[key], name) or name} ({same[key]:,} bytes)"
               for key, name in (("png", "this image as PNG"), ("jpeg90", "as JPEG q90"),
                                 ("jpeg75", "as JPEG q75"))]
    lines = [
        f"{report['input']} ({report['width']}×{report['height']}, {report['channels']} channel(s), "
        f"{report['mode']}) -> {report['output']} ({report['output_file_bytes']:,} bytes)",
        f"{ranks} (by {report['rule']} = {report['target']}, {report['method']}), "
        f"factors at {report['dtype']}"
        + ("" if report["energy_kept"] is None else f", energy kept {report['energy_kept']:.4%}"),
        f"PSNR {number(report['psnr_db'], '.2f')} dB of the written file (predicted before rounding: "
        f"{number(report['psnr_predicted_db'], '.2f')} dB), SSIM {number(report['ssim'], '.4f')}, "
        f"relative error {report['relative_error']:.4g}",
        (f"tile file at {report['dtype']} (header, rank codes, means, factors, scales, raw tiles)" if tiled
         else f"factor payload at {report['dtype']}") + f": {payload:,} bytes, " + ", ".join(against),
        ("" if tiled else "factor payload at each precision: "
         + ", ".join(f"{kind} {sizes[kind]:,}" for kind in DTYPES if sizes[kind] is not None) + " bytes ")
        + f"(raw 8-bit pixels, for reference: {report['raw_bytes']:,})",
    ]
    if report["factors_file"]:
        lines.append(f"factors file: {report['factors_file']} ({report['factors_file_bytes']:,} bytes)")
    lines.extend(f"notice: {notice}" for notice in report["notices"])
    return "\n".join(lines)
