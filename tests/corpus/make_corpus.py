"""Write the corpus of bad and odd inputs to ``tests/corpus/files/`` and describe each in ``MANIFEST``.

Run ``python tests/corpus/make_corpus.py`` from the repository root to (re)write the files. Every file is
computed here from fixed seeds (no downloads); the outputs are committed so that the tests read exactly
the bytes a user would upload. ``--check`` regenerates into memory and lists any file that differs from
the committed one (encoders of other Pillow / zlib builds may differ by a few bytes; that is harmless).

``MANIFEST`` is the contract: for each file, what ``load_image`` / ``load_matrix`` (chosen by ``kind``)
must do with it — ``"ok"`` with the documented conversion (a fragment of one of the loader's notices, and
the shape of the result), or the name of the ``InputError`` subclass it must raise and a fragment of its
message. ``tests/test_corpus.py`` holds the loaders, the command line and (``tests/test_corpus_pages.py``)
the pages to it; ``docs/robustness.md`` shows it as a table.

The pickle payloads are armed: unpickling them calls ``pathlib.Path.touch(MARKER)``. Nothing in this
script unpickles them; the tests prove they are armed by loading one with pickle deliberately, then
check that no loader ever creates the marker.
"""

from __future__ import annotations

import argparse
import io
import json
import pathlib
import pickle
import re
import struct
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

HERE = pathlib.Path(__file__).resolve().parent
FILES = HERE / "files"
MARKER = pathlib.Path(tempfile.gettempdir()) / "lowrank_pwned_marker"
"""Created if, and only if, a pickle payload of the corpus is ever executed."""
HTML_NAME = "<img src=x onerror=alert(1)>"
"""A file name that is markup; the tests pass it as the upload's name (it is never a name on disk)."""


@dataclass(frozen=True)
class Case:
    """One corpus file and what the loaders must do with it.

    file: name under ``files/``; kind: "image" (load_image) or "matrix" (load_matrix); outcome: "ok" or
    the class name of the InputError raised; fragment: part of the error message, or for "ok" part of a
    notice ("" when the loader changes nothing worth a notice); shape: (C, H, W) or (m, n) for "ok";
    what: the input, in words, for the docs table; upload_name: the name given to the loader (and to the
    upload widget) when it is not ``file``; refused_later: for a file the loader accepts but the SVD
    refuses (the pages and the command line then show that error), the error's class name and a fragment.
    """

    file: str
    kind: str
    outcome: str
    fragment: str
    what: str
    shape: tuple[int, ...] | None = None
    upload_name: str | None = None
    refused_later: tuple[str, str] | None = None

    @property
    def name(self) -> str:
        """The name the loader is given."""
        return self.upload_name or self.file


BOMB = "DecompressionBombError"
MANIFEST: list[Case] = [
    # ------------------------------------------------------------------ decompression bombs (images)
    Case("bomb_png_40000x40000.png", "image", BOMB, "1,600 megapixels",
         "PNG of 200 bytes whose header claims 40000×40000 (1.6 gigapixels)"),
    Case("bomb_png_10000x10000.png", "image", BOMB, "10000×10000 pixels",
         "real 1-bit PNG bomb: 12 KB that inflate to 100 megapixels"),
    Case("bomb_gif_65535x65535.gif", "image", BOMB, "4,295 megapixels",
         "GIF whose screen descriptor claims 65535×65535"),
    Case("bomb_bmp_30000x30000.bmp", "image", BOMB, "900 megapixels",
         "BMP header claiming 30000×30000, no pixel data"),
    Case("bomb_jpeg_60000x60000.jpg", "image", BOMB, "3,600 megapixels",
         "8×8 JPEG whose frame header was patched to 60000×60000"),
    # ------------------------------------------------------------------ decoder bombs (below the pixel cap)
    Case("bomb_tiff_tile.tif", "image", BOMB, "1 tile of 16384×43680 pixels",
         "64×64 TIFF of 238 bytes declaring one deflate tile of 16384×43680 (libtiff allocates 2 GB for it)"),
    Case("bomb_jpeg_scans.jpg", "image", BOMB, "more than 100 scans",
         "64×64 progressive JPEG whose last scan is repeated 250 times (each scan is a pass over the image)"),
    Case("many_pages.tif", "image", "ok", "only the first frame is used",
         "TIFF of 200 one-pixel pages (asked is_animated, never counted: counting walks every page)",
         (1, 1, 1)),
    # ------------------------------------------------------------------ formats that are never decoded
    Case("ico_png_bomb.ico", "image", "UnsupportedFormatError", "not an image in a format this app reads",
         "ICO holding a PNG that claims 13000×13000 (Pillow's ICO decoder inflates it inside open)",
         upload_name="icon.png"),
    Case("jpeg2000_header.jp2", "image", "UnsupportedFormatError", "not an image in a format this app reads",
         "JPEG 2000 codestream header claiming 7000×7000×3, no data", upload_name="photo.png"),
    Case("ppm_image.ppm", "image", "UnsupportedFormatError", "not an image in a format this app reads",
         "a valid 4×4 PPM (a format Pillow reads, not one this app accepts)", upload_name="picture.png"),
    Case("psd_image.psd", "image", "UnsupportedFormatError", "not an image in a format this app reads",
         "a valid 2×2 Photoshop file", upload_name="layers.png"),
    Case("eps_image.eps", "image", "UnsupportedFormatError", "not an image in a format this app reads",
         "an EPS file (Pillow would run Ghostscript on it)", upload_name="drawing.png"),
    # ------------------------------------------------------------------ broken images
    Case("truncated_half.png", "image", "ParseError", "truncated or corrupt",
         "PNG of noise cut in half"),
    Case("truncated_half.jpg", "image", "ParseError", "truncated or corrupt",
         "JPEG of noise cut in half"),
    Case("garbage_middle.jpg", "image", "ok", "",
         "JPEG with 300 random bytes over the middle of its scan (libjpeg decodes it, garbled)",
         (3, 64, 64)),
    Case("text_as_image.png", "image", "UnsupportedFormatError", "not an image in a format this app reads",
         "a text file named .png"),
    Case("empty.png", "image", "EmptyInputError", "empty (0 bytes)", "an empty .png"),
    Case("nan_float32.tif", "image", "NonFiniteError", "not a finite number",
         "32-bit float TIFF with a NaN pixel"),
    # ------------------------------------------------------------------ odd but valid images
    Case("gray16.png", "image", "ok", "", "16-bit grey PNG (values scaled by 1/65535)", (1, 32, 48)),
    Case("cmyk.jpg", "image", "ok", "", "CMYK JPEG (converted to RGB)", (3, 24, 32)),
    Case("palette_transparent.png", "image", "ok", "laid on a white background",
         "palette PNG with a transparent colour (alpha composited on white)", (3, 16, 16)),
    Case("gray_alpha.png", "image", "ok", "laid on a white background",
         "LA PNG, half transparent (alpha composited on white)", (1, 20, 30)),
    Case("animated.gif", "image", "ok", "only the first frame is used",
         "animated GIF of 3 frames (first frame)", (3, 16, 16)),
    Case("exif_orientation6.jpg", "image", "ok", "Rotated according to its EXIF orientation",
         "JPEG stored 40×20 with EXIF orientation 6 (rotated to 20×40)", (3, 40, 20)),
    Case("one_pixel.png", "image", "ok", "", "1×1 image", (1, 1, 1)),
    Case("thin_5000x1.png", "image", "ok", "", "5000×1 image (one row)", (1, 1, 5000)),
    Case("constant.png", "image", "ok", "", "constant grey image (rank 1, all singular values but one 0)",
         (1, 64, 64)),
    Case("downscale_2400x2000.png", "image", "ok", "Downscaled from 2400×2000 to 2190×1825",
         "4.8-megapixel image (downscaled under the 4-megapixel budget)", (1, 1825, 2190)),
    Case("lossless.webp", "image", "ok", "", "lossless WebP", (3, 20, 24)),
    Case("rgb24.bmp", "image", "ok", "", "24-bit BMP", (3, 20, 24)),
    Case("float32.tif", "image", "ok", "", "32-bit float TIFF in [0, 1] (mode F)", (1, 16, 24)),
    Case("float32_wide_range.tif", "image", "ok", "rescaled to 0..1",
         "32-bit float TIFF with values -50..1000 (rescaled to 0..1)", (1, 16, 24)),
    Case("html_name.png", "image", "ok", "", "a PNG uploaded under a name that is HTML markup",
         (3, 8, 8), upload_name=HTML_NAME + ".png"),
    # ------------------------------------------------------------------ text matrices
    Case("empty.csv", "matrix", "EmptyInputError", "empty (0 bytes)", "an empty .csv"),
    Case("blank_lines.csv", "matrix", "EmptyInputError", "contains no numbers",
         "a .csv of blank lines and spaces"),
    Case("ragged.csv", "matrix", "ParseError", "Row 3 has 2 values, expected 3", "rows of unequal length"),
    Case("header.csv", "matrix", "ok", "read as column names", "a header row (skipped with a notice)",
         (2, 3)),
    Case("semicolons.csv", "matrix", "ok", "", "semicolon-separated cells", (2, 3)),
    Case("decimal_comma.csv", "matrix", "ParseError", "Use a dot as the decimal separator",
         "semicolons with decimal commas (1,5;2,5)"),
    Case("nan.csv", "matrix", "NonFiniteError", "Row 2, column 1 is NaN", "a NaN cell"),
    Case("infinity.csv", "matrix", "NonFiniteError", "Row 1, column 2 is infinite", "an inf cell"),
    Case("overflow_1e39.csv", "matrix", "NonFiniteError", "overflows float32",
         "1e39, beyond float32's ±3.4e38"),
    Case("bom_crlf.csv", "matrix", "ok", "", "UTF-8 BOM and CRLF line ends", (2, 3)),
    Case("huge_3e38.csv", "matrix", "ok", "",
         "entries of 3e38: finite in float32, but σ₁ ≈ 4.6e38 overflows it (refused by the SVD)", (2, 3),
         refused_later=("NonFiniteError", "overflow float32")),
    Case("zeros.csv", "matrix", "ok", "", "an all-zero matrix (every singular value 0)", (2, 3)),
    Case("unicode_minus.csv", "matrix", "ok", "read as minus signs",
         "minus signs written as U+2212 (−1.5, −4e−2), as a word processor does", (2, 2)),
    Case("underflow_1e-400.csv", "matrix", "ok", "too close to 0",
         "1e-400 (0 even in float64) and 1e-50 (0 in float32), read as 0 with a notice", (2, 2)),
    Case("text_cell.csv", "matrix", "ParseError", "Row 2, column 2 is 'abc', not a number",
         "a word in a cell"),
    Case("png_as.csv", "matrix", "ParseError", "not UTF-8 text", "a PNG file named .csv"),
    Case("spaces.txt", "matrix", "ok", "", "space-separated .txt", (3, 2)),
    Case("tabs.tsv", "matrix", "ok", "", "tab-separated .tsv", (2, 2)),
    Case("html_name.csv", "matrix", "ok", "", "a CSV uploaded under a name that is HTML markup", (2, 2),
         upload_name=HTML_NAME + ".csv"),
    # ------------------------------------------------------------------ binary matrices
    Case("empty.npy", "matrix", "EmptyInputError", "empty (0 bytes)", "an empty .npy"),
    Case("cube_3d.npy", "matrix", "ShapeError", "3 dimensions", "a 2×3×4 array"),
    Case("scalar.npy", "matrix", "ShapeError", "single number", "a 0-d array"),
    Case("vector.npy", "matrix", "ok", "used as a single row", "a 1-D array of 5 (becomes 1×5)", (1, 5)),
    Case("complex.npy", "matrix", "UnsupportedFormatError", "complex numbers", "complex128 values"),
    Case("structured.npy", "matrix", "UnsupportedFormatError", "not numbers", "a structured (record) dtype"),
    Case("bool.npy", "matrix", "ok", "True/False values were converted to 1/0", "booleans", (3, 4)),
    Case("int64.npy", "matrix", "ok", "Whole numbers (int64) were converted",
         "int64 values (converted from int64)", (3, 4)),
    Case("big_int.npy", "matrix", "ok", "float32 cannot hold them exactly",
         "int64 values above 2^24 (rounded, with a notice)", (1, 2)),
    Case("big_endian.npy", "matrix", "ok", "", "big-endian float64 (>f8)", (3, 4)),
    Case("float16.npy", "matrix", "ok", "", "float16 values", (2, 2)),
    Case("nan.npy", "matrix", "NonFiniteError", "Row 2, column 3 is NaN", "a NaN inside a float array"),
    Case("header_claims_huge.npy", "matrix", "TooLargeError", "100000×100000 array",
         ".npy header claiming 100000×100000 float64, no data"),
    Case("truncated.npy", "matrix", "ParseError", "could not be read", "a .npy cut in half"),
    Case("several.npz", "matrix", "ParseError", "holds 3 arrays", "an .npz holding three arrays"),
    Case("single.npz", "matrix", "ok", "Using the array 'W'", "an .npz holding one array W", (4, 3)),
    Case("zip_bomb.npz", "matrix", "TooLargeError", "limit for this kind of file",
         "an .npz of 70 KB whose array inflates to 72 MB"),
    Case("tensor.pt", "matrix", "ok", "", "torch.save of a float32 tensor", (3, 5)),
    Case("two_tensors.pt", "matrix", "ParseError", "holds 2 tensors", "torch.save of a dict of two tensors"),
    # ------------------------------------------------------------------ pickle payloads (code execution)
    Case("pickle_payload.npy", "matrix", "UnsafeFileError", "could run code",
         "object .npy whose pickle would touch a marker file"),
    Case("pickle_payload.npz", "matrix", "UnsafeFileError", "could run code",
         "an .npz holding that object .npy"),
    Case("pickle_payload.pt", "matrix", "UnsafeFileError", "refused",
         "torch.save zip whose data.pkl would touch a marker file"),
    Case("pickle_legacy.pt", "matrix", "UnsupportedFormatError", "zip format",
         "a bare pickle named .pt that would touch a marker file"),
]


# ================================================================================================ makers


class _TouchMarker:
    """Unpickling this calls ``pathlib.Path.touch(MARKER)``: the proof that code ran."""

    def __reduce__(self):
        return (pathlib.Path.touch, (str(MARKER),))


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    """A PNG chunk with its length and CRC."""
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _png_raw(width: int, height: int, *, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    """A PNG from its parts, so that the header can claim any size."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    """An image encoded by Pillow."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _npy(array: np.ndarray, *, allow_pickle: bool = False) -> bytes:
    """An array as .npy bytes."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _npz(**arrays: bytes) -> bytes:
    """An .npz (a zip of .npy members, deflated) from member name -> .npy bytes, with a fixed timestamp."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def _pt(obj) -> bytes:
    """torch.save bytes (zip format)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _noise(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Uniform uint8 noise."""
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _bombs() -> dict[str, bytes]:
    """Images whose headers claim far more pixels than allowed."""
    files = {}
    one_row = zlib.compress(b"\x00" + bytes(40000 * 3), 9)
    files["bomb_png_40000x40000.png"] = _png_raw(40000, 40000, bit_depth=8, colour_type=2, idat=one_row)
    rows = (b"\x00" + bytes(10000 // 8)) * 10000  # filter byte + 1250 bytes of 1-bit pixels, per row
    files["bomb_png_10000x10000.png"] = _png_raw(10000, 10000, bit_depth=1, colour_type=0,
                                                 idat=zlib.compress(rows, 9))
    # GIF89a, logical screen 65535×65535, no global colour table, one 1×1 frame with a 2-colour table.
    files["bomb_gif_65535x65535.gif"] = (
        b"GIF89a" + struct.pack("<HHBBB", 65535, 65535, 0, 0, 0)
        + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0x80) + b"\x00\x00\x00\xff\xff\xff"
        + b"\x02\x02\x44\x01\x00" + b"\x3b"
    )
    info_header = struct.pack("<IiiHHIIiiII", 40, 30000, 30000, 1, 24, 0, 0, 2835, 2835, 0, 0)
    files["bomb_bmp_30000x30000.bmp"] = b"BM" + struct.pack("<IHHI", 14 + 40, 0, 0, 14 + 40) + info_header
    jpeg = bytearray(_encode(Image.new("RGB", (8, 8), (200, 30, 30)), "JPEG", quality=90))
    sof = jpeg.index(b"\xff\xc0")  # baseline frame header: FF C0, length(2), precision(1), height, width
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)
    files["bomb_jpeg_60000x60000.jpg"] = bytes(jpeg)
    return files


def tiled_tiff(width: int, height: int, tile: tuple[int, int], tiles: list[bytes]) -> bytes:
    """A little-endian 8-bit RGB TIFF of deflate tiles of ``tile`` (width, length), whatever the image size.

    ``tiles`` are the compressed tiles, in TIFF's order; the tags say what they hold, and nothing checks it.
    """
    count = len(tiles)
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 3, "bits"), (259, 3, 1, 8), (262, 3, 1, 2),
               (277, 3, 1, 3), (284, 3, 1, 1), (322, 4, 1, tile[0]), (323, 4, 1, tile[1]),
               (324, 4, count, "offsets"), (325, 4, count, "counts")]
    bits_at = 8 + 2 + 12 * len(entries) + 4
    offsets_at = bits_at + 8  # BitsPerSample (8, 8, 8) padded to 8 bytes
    counts_at = offsets_at + 4 * count
    data_at = counts_at + 4 * count
    offsets = [data_at + sum(map(len, tiles[:i])) for i in range(count)]
    arrays = {"bits": bits_at,
              "offsets": offsets[0] if count == 1 else offsets_at,
              "counts": len(tiles[0]) if count == 1 else counts_at}
    ifd = struct.pack("<H", len(entries))
    for tag, kind, number, value in entries:
        value = arrays.get(value, value)
        packed = struct.pack("<HH", value, 0) if kind == 3 and number == 1 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, number) + packed
    return (b"II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + struct.pack("<3H2x", 8, 8, 8)
            + struct.pack(f"<{count}I", *offsets) + struct.pack(f"<{count}I", *map(len, tiles))
            + b"".join(tiles))


def _jpeg_segments(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each scan (SOS marker and its entropy-coded data) of a JPEG made by Pillow."""
    following = re.compile(rb"\xff+[^\x00\xd0-\xd7\xff]")
    position, found = 2, []
    while data[position + 1] != 0xD9:
        start = position
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
        if data[start + 1] == 0xDA:
            position = following.search(data, position).end() - 2
            found.append((start, position))
    return found


def _decoder_bombs() -> dict[str, bytes]:
    """Files under the pixel cap that would cost a decoder gigabytes, minutes, or a walk of all pages."""
    rows, cols = np.mgrid[0:64, 0:64]
    smooth = np.stack([cols * 4, rows * 4, (rows + cols) * 2], axis=-1).astype(np.uint8)
    progressive = _encode(Image.fromarray(smooth), "JPEG", quality=90, progressive=True)
    start, end = _jpeg_segments(progressive)[-1]
    pages = [Image.new("L", (1, 1), 17 * (i % 15)) for i in range(200)]
    return {
        "bomb_tiff_tile.tif": tiled_tiff(64, 64, (16384, 43680), [zlib.compress(bytes(1 << 16), 9)]),
        "bomb_jpeg_scans.jpg": progressive[:end] + progressive[start:end] * 250 + progressive[end:],
        "many_pages.tif": _encode(pages[0], "TIFF", save_all=True, append_images=pages[1:]),
    }


def _other_formats() -> dict[str, bytes]:
    """Images in formats Pillow reads but the app never decodes (each is uploaded under a .png name)."""
    bomb_png = _png_raw(13000, 13000, bit_depth=8, colour_type=2,
                        idat=zlib.compress(b"\x00" + bytes(13000 * 3), 9))
    directory = struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(bomb_png), 22)
    siz = struct.pack(">HIIIIIIIIH", 0, 7000, 7000, 0, 0, 7000, 7000, 0, 0, 3) + b"\x07\x01\x01" * 3
    jpeg2000 = (b"\xff\x4f\xff\x51" + struct.pack(">H", len(siz) + 2) + siz
                + b"\xff\x52\x00\x0c\x00\x00\x00\x01\x00\x05\x04\x04\x00\x00\xff\xd9")
    psd = (b"8BPS" + struct.pack(">H6xHIIHH", 1, 1, 2, 2, 8, 1) + bytes(12) + struct.pack(">H", 0)
           + bytes([10, 20, 30, 40]))  # header, three empty sections, raw 8-bit grey pixels
    return {
        "ico_png_bomb.ico": directory + bomb_png,
        "jpeg2000_header.jp2": jpeg2000,
        "ppm_image.ppm": _encode(Image.new("RGB", (4, 4), (10, 200, 30)), "PPM"),
        "psd_image.psd": psd,
        "eps_image.eps": (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n%%EndComments\n"
                          b"newpath 0 0 moveto 8 8 lineto stroke\n%%EOF\n"),
    }


def _broken_images() -> dict[str, bytes]:
    """Truncated, garbled, mislabelled and empty image files."""
    noise = Image.fromarray(_noise((64, 64, 3), seed=1))
    png, jpeg = _encode(noise, "PNG"), _encode(noise, "JPEG", quality=90)
    garbled = bytearray(jpeg)
    middle = len(garbled) // 2
    garbled[middle : middle + 300] = _noise((300,), seed=2).tobytes()
    nan_image = np.linspace(0, 1, 16 * 24, dtype=np.float32).reshape(16, 24)
    nan_image[3, 5] = np.nan
    return {
        "truncated_half.png": png[: len(png) // 2],
        "truncated_half.jpg": jpeg[: len(jpeg) // 2],
        "garbage_middle.jpg": bytes(garbled),
        "text_as_image.png": b"This is a shopping list, not a picture.\nmilk\neggs\n",
        "empty.png": b"",
        "nan_float32.tif": _encode(Image.fromarray(nan_image, mode="F"), "TIFF"),
    }


def _odd_images() -> dict[str, bytes]:
    """Valid images in every awkward mode, size and format."""
    files = {}
    rows, cols = np.mgrid[0:32, 0:48]
    gray16 = (rows * 48 + cols) * 28  # 0..43008, spread over the 16-bit range
    files["gray16.png"] = _encode(Image.fromarray(gray16.astype(np.uint16)), "PNG")
    cmyk = np.zeros((24, 32, 4), np.uint8)
    cmyk[:, :16, 0] = 255  # cyan on the left half
    cmyk[:, 16:, 2] = 255  # yellow on the right half
    files["cmyk.jpg"] = _encode(Image.fromarray(cmyk, mode="CMYK"), "JPEG", quality=95)
    palette = Image.new("P", (16, 16), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    palette.paste(0, (0, 0, 8, 16))  # the left half uses index 0, which is transparent
    files["palette_transparent.png"] = _encode(palette, "PNG", transparency=0)
    gray_alpha = np.zeros((20, 30, 2), np.uint8)
    gray_alpha[:, :, 0] = 40
    gray_alpha[:, :, 1] = 128
    files["gray_alpha.png"] = _encode(Image.fromarray(gray_alpha, mode="LA"), "PNG")
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    files["animated.gif"] = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100,
                                    loop=0)
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :20] = (255, 0, 0)  # red on the left of the stored pixels: the top once rotated 90° clockwise
    stored[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    files["exif_orientation6.jpg"] = _encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes())
    files["one_pixel.png"] = _encode(Image.new("L", (1, 1), 77), "PNG")
    files["thin_5000x1.png"] = _encode(Image.fromarray((np.arange(5000) % 256).astype(np.uint8)[None]), "PNG")
    files["constant.png"] = _encode(Image.new("L", (64, 64), 128), "PNG")
    big = np.add.outer(np.arange(2000) // 50, np.arange(2400) // 50).astype(np.uint8) * 3  # blocks
    files["downscale_2400x2000.png"] = _encode(Image.fromarray(big), "PNG", optimize=True)
    small = Image.fromarray(_noise((20, 24, 3), seed=3))
    files["lossless.webp"] = _encode(small, "WEBP", lossless=True)
    files["rgb24.bmp"] = _encode(small, "BMP")
    unit = np.linspace(0, 1, 16 * 24, dtype=np.float32).reshape(16, 24)
    files["float32.tif"] = _encode(Image.fromarray(unit, mode="F"), "TIFF")
    files["float32_wide_range.tif"] = _encode(Image.fromarray(unit * 1050 - 50, mode="F"), "TIFF")
    files["html_name.png"] = _encode(Image.fromarray(_noise((8, 8, 3), seed=4)), "PNG")
    return files


def _text_matrices() -> dict[str, bytes]:
    """CSV, TSV and text files, good and bad."""
    return {
        "empty.csv": b"",
        "blank_lines.csv": b"\n\n   \n\t\n",
        "ragged.csv": b"1,2,3\n4,5,6\n7,8\n",
        "header.csv": b"alpha,beta,gamma\n1,2,3\n4,5,6\n",
        "semicolons.csv": b"1;2;3\n4;5;6\n",
        "decimal_comma.csv": b"1,5;2,5\n3,5;4,5\n",
        "nan.csv": b"1,2\nnan,4\n",
        "infinity.csv": b"1,inf\n3,4\n",
        "overflow_1e39.csv": b"1,2\n1e39,4\n",
        "bom_crlf.csv": "\ufeff1,2,3\r\n4,5,6\r\n".encode(),
        "huge_3e38.csv": b"3e38,3e38,1.5e38\n3e38,-3e38,0.75e38\n",
        "zeros.csv": b"0,0,0\n0,0,0\n",
        "unicode_minus.csv": "\u22121.5,2\n3,\u22124e\u22122\n".encode(),
        "underflow_1e-400.csv": b"1e-400,1\n2,1e-50\n",
        "text_cell.csv": b"1,2\n3,abc\n",
        "png_as.csv": _encode(Image.new("L", (4, 4), 0), "PNG"),
        "spaces.txt": b"1.5 2\n3 4e-3\n  -5   6\n",
        "tabs.tsv": b"1\t2\n3\t4\n",
        "html_name.csv": b"1,2\n3,4\n",
    }


def _binary_matrices() -> dict[str, bytes]:
    """.npy, .npz and .pt files, good and bad."""
    values = np.arange(12, dtype=np.float64).reshape(3, 4) / 7
    nan = np.ones((2, 4))
    nan[1, 2] = np.nan
    huge_header = _npy_header_only((100000, 100000), "<f8")
    tensor_file = _pt(torch.arange(15, dtype=torch.float32).reshape(3, 5) / 4)
    normal = _npy(values)
    return {
        "empty.npy": b"",
        "cube_3d.npy": _npy(np.zeros((2, 3, 4))),
        "scalar.npy": _npy(np.float64(3.5)),
        "vector.npy": _npy(np.arange(5.0)),
        "complex.npy": _npy(np.ones((2, 2), dtype=np.complex128)),
        "structured.npy": _npy(np.zeros(3, dtype=[("x", "<f4"), ("y", "<i4")])),
        "bool.npy": _npy(np.arange(12).reshape(3, 4) % 3 == 0),
        "int64.npy": _npy(np.arange(-6, 6, dtype=np.int64).reshape(3, 4) * 1000),
        "big_int.npy": _npy(np.array([[2**24 + 1, 7]], dtype=np.int64)),
        "big_endian.npy": _npy(values.astype(">f8")),
        "float16.npy": _npy(np.array([[0.5, -1.25], [65504, 3]], dtype=np.float16)),
        "nan.npy": _npy(nan),
        "header_claims_huge.npy": huge_header,
        "truncated.npy": normal[: len(normal) - 40],
        "several.npz": _npz(a=_npy(values), b=_npy(values), c=_npy(values)),
        "single.npz": _npz(W=_npy(np.arange(12.0).reshape(4, 3))),
        "zip_bomb.npz": _npz(W=_npy(np.zeros((3000, 3000)))),
        "tensor.pt": tensor_file,
        "two_tensors.pt": _pt({"weight": torch.ones(2, 2), "bias": torch.zeros(2)}),
        "pickle_payload.npy": _npy(np.array([_TouchMarker(), 1.0], dtype=object), allow_pickle=True),
        "pickle_payload.npz": _npz(W=_npy(np.array([_TouchMarker()], dtype=object), allow_pickle=True)),
        "pickle_payload.pt": _pt({"weight": torch.ones(2, 2), "payload": _TouchMarker()}),
        "pickle_legacy.pt": pickle.dumps({"weight": [[1.0, 2.0]], "payload": _TouchMarker()}, protocol=4),
    }


def _npy_header_only(shape: tuple[int, ...], descr: str) -> bytes:
    """A version 1.0 .npy header for ``shape`` with no data after it."""
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"  # pad so that magic + length + header is 64-aligned
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def build() -> dict[str, bytes]:
    """Every corpus file: name -> bytes, computed from fixed seeds."""
    files = {**_bombs(), **_decoder_bombs(), **_other_formats(), **_broken_images(), **_odd_images(),
             **_text_matrices(), **_binary_matrices()}
    listed = {case.file for case in MANIFEST}
    assert listed == set(files), f"manifest and files differ: {sorted(listed ^ set(files))}"
    return files


def markdown_table() -> str:
    """The corpus as a Markdown table: each committed file through its loader, and the message shown."""
    import warnings

    sys.path.insert(0, str(HERE.parents[1]))
    from lowrank_core.errors import InputError, LowRankError
    from lowrank_core.factorize import factorize
    from lowrank_core.sources import load_image, load_matrix

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| file | input | outcome | what the user gets |", "| --- | --- | --- | --- |"]
    for case in MANIFEST:
        loader = load_image if case.kind == "image" else load_matrix
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                loaded = loader((FILES / case.file).read_bytes(), name=case.name)
            except InputError as err:
                outcome, shown = type(err).__name__, str(err)
            else:
                values = loaded.pixels if case.kind == "image" else loaded.values
                shape = "×".join(map(str, values.shape))
                outcome = "ok"
                shown = f"{case.kind} {shape}" + ("; " + " ".join(loaded.notices) if loaded.notices else "")
                if case.refused_later is not None:
                    try:
                        factorize(values)
                    except LowRankError as err:
                        outcome = f"ok, then {type(err).__name__} from the SVD"
                        shown += f"; then: {err}"
        name = f"`{case.file}`" + ("" if case.upload_name is None else f" (uploaded as `{case.upload_name}`)")
        lines.append(f"| {name} | {cell(case.what)} | {outcome} | {cell(shown)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write the corpus (or with --check, report files that differ from the committed ones)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed files, write nothing")
    parser.add_argument("--manifest-json", action="store_true", help="print the manifest as JSON")
    parser.add_argument("--markdown", action="store_true",
                        help="print the docs table: each file through its loader, and what the user gets")
    args = parser.parse_args(argv)
    if args.manifest_json:
        print(json.dumps([case.__dict__ for case in MANIFEST], indent=1, ensure_ascii=False))
        return 0
    if args.markdown:
        print(markdown_table())
        return 0
    files = build()
    if args.check:
        differing = [name for name, data in files.items()
                     if not (FILES / name).exists() or (FILES / name).read_bytes() != data]
        print("\n".join(differing) or "the committed corpus matches")
        return 1 if differing else 0
    FILES.mkdir(exist_ok=True)
    for stale in FILES.iterdir():
        if stale.name not in files:
            stale.unlink()
    for name, data in sorted(files.items()):
        (FILES / name).write_bytes(data)
    total = sum(map(len, files.values()))
    print(f"wrote {len(files)} files, {total / 1e3:.0f} kB, to {FILES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
