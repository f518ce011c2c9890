"""What a browser needs to draw every rank of an image (or a matrix) itself: display factors in one blob.

The rank scrubber (``ui/components/scrubber``) draws the rank-r reconstruction in a canvas by adding and
removing rank-one terms ``a[:, t] b[t, :]`` at the display size. This module computes those factors once
per (image, colour mode, precision, display size, rank cap) from an ``ImageCodec`` (or, for the matrix
explorer's heatmaps, from a ``Factorization`` at the shown rows and columns) and packs them into ONE
little-endian binary blob: a fixed header, a section table and typed arrays (no JSON lists). ``unpack``
reads a blob back and ``ScrubFactors.image_at`` rebuilds a rank exactly as ``scrubber.js`` does, so the
format is tested in Python against ``ImageCodec.reconstruct(ranks, dtype=dtype, size=size)``.

What is sent, per precision (k = the rank cap, C channels, display h × w, source H × W):

- float32: ``a`` at the display rows (C, k, h) and ``b`` at the display columns (C, k, w), float32: the
  very values ``ImageCodec.reconstruct(..., size=(h, w))`` multiplies.
- float16: the same factors rounded to float16. The codec rounds its full-size factors through float16 and
  then resizes them; the resized values are rounded to float16 once more for the wire. Measured against
  the codec's display image this moves < 3 % of the 8-bit pixels by one grey level and none by more.
- int8: the codec's own int8 values and float32 scales (one per column of a and per row of b), at the
  SOURCE rows and columns, plus the resize as a sparse map (for each display row: the first source row and
  its weights). Re-quantizing the resized factors to int8 at display size would be half the bytes but
  misses the precision bound (0.3-6 % of the pixels off by 2-4 grey levels, measured on the samples and a
  1080p photo), so the browser resizes the int8 factors itself (a few multiply-adds per entry, once).
  Without a resize (an image at most the display size) the int8 values are sent as they are.

Also in the blob: the codec's singular values (C, codec ranks) for a kept marker, the original at the
display size as 8-bit planes (deflate of PNG's "Up" filter; the browser's DecompressionStream undoes it),
and the constants of the colour conversion, so the browser converts exactly as ``from_color_space`` and
``to_uint8`` do: RGB = M · (Y, Cb − 128/255, Cr − 128/255) with M = ``RGB_FROM_YCBCR`` rounded to float32,
then clip to [0, 1], then ``x·255 + 0.5`` truncated (in float32).

Payload size at the default budget (``MAX_PAYLOAD_BYTES`` = 4,000,000 bytes; the rank cap is the most
ranks that fit, at most the codec's stored rank), measured by ``tests/core/test_scrub.py`` and
``benchmarks/scrub.py``:

=====================  =========  =========  ===========  ========  ===========================
image (source)         display    precision  bytes        rank cap  bytes a rank
=====================  =========  =========  ===========  ========  ===========================
1920×1080 RGB photo    1024×576   float16    3,990,616    320       9,600 (+ 0.9 MB original)
1920×1080 RGB photo    1024×576   int8       3,991,808    337       9,024 (source-size int8)
1920×1080 RGB photo    1024×576   float32    3,990,616    160       19,200
1920×1080 luminance    1024×576   float16    3,757,248    1080      3,200 (the full rank)
512×512 RGB sample     512×512    float16    3,580,464    512       6,144 (the full rank)
512×512 RGB sample     512×512    int8       2,019,920    512       3,096 (the full rank)
=====================  =========  =========  ===========  ========  ===========================

(``sources.sample_photo_1080p()`` and the "astronaut" sample; the original's share depends on the image.)

Why fill the budget by default: every shipped sample then goes whole (its full rank), and at 1080p the
float16 cap of 320 is where the display picture stops changing: rank 320 is within 2 grey levels of the
full rank 1080 on every pixel (mean 0.13 levels, PSNR 56.8 dB against it; rank 160 still differs by 2.1
levels on average). Above the cap the browser keeps showing the cap and says so; the page's numbers use the
rank set (they are computed on the server from the codec).

Bytes a rank: C · (h + w) · 2 for float16, C · (h + w) · 4 for float32, C · (H' + W' + 8) for int8 with
H' = H and W' = W when resized (h and w otherwise).

The package: ``factors`` (what travels, and how the browser rebuilds a rank from it), ``build`` (from an
``ImageCodec`` or a matrix's ``Factorization``) and ``blob`` (the bytes: ``pack``, ``unpack``,
``read_header``).
"""

from .blob import HEADER_BYTES, PayloadHeader, pack, payload_id, read_header, unpack
from .build import MAX_DISPLAY_SIDE, MAX_MATRIX_SIDE, MAX_PAYLOAD_BYTES, matrix_scrub_factors, scrub_factors
from .factors import ERROR_GAIN, ResizeMap, ScrubFactors

__all__ = [
    "MAX_PAYLOAD_BYTES", "MAX_DISPLAY_SIDE", "MAX_MATRIX_SIDE", "HEADER_BYTES", "ERROR_GAIN", "ResizeMap",
    "ScrubFactors", "scrub_factors", "matrix_scrub_factors", "pack", "unpack", "payload_id", "PayloadHeader",
    "read_header",
]
