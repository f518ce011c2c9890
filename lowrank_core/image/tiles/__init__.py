"""Tile-wise SVD: the image cut into s × s tiles, each factored, with ranks spent where the detail is.

A global SVD spends the same rank on the sky and on the leaves; JPEG works on 8 × 8 blocks and spends its bits
where the detail is. This module does the SVD the same way:

1. **Tiles.** Each channel of the image in a colour mode (``image.to_color_space``: RGB, luminance, or
   YCbCr with chroma centred on zero) is cut into s × s tiles, s in ``TILE_SIDES``, row by row. The last row
   and column of tiles are cut short by the image's edge: their real part is h' × w' (h', w' <= s). Each
   tile's mean over its real pixels is removed, and the edge tiles are **padded with zeros after the mean is
   removed**, so a padded tile is [[A - μ, 0], [0, 0]]: its SVD is exactly that of A - μ (the zero rows and
   columns add nothing), its best rank-r approximation is [[(A - μ)_r, 0], [0, 0]], and only the h' real
   rows of U and the w' real columns of Vh are stored. Cropping back is therefore exact and costs nothing.
2. **One batched SVD.** All tiles of all channels form one (C·T, s, s) stack, factored by a single
   ``torch.linalg.svd`` call on the device ``choose_device`` picks, signs fixed by ``sign_flip``.
3. **Options per tile.** Rank 0 (the mean only), rank r = 1 .. min(h', w') (the mean plus r factor pairs
   of the mean-removed tile, Σ folded into a = U_r diag(S_r), b = Vh_r), or raw (the tile's 8-bit values;
   cheaper than high ranks). Each option has an exact byte count (below) and a predicted squared error:
   Eckart–Young's discarded Σ σᵢ² plus the error of the stored (rounded) mean, or the 8-bit rounding error
   of the raw tile. In YCbCr mode a channel's error is weighted by how much it moves RGB (the squared column
   norms of the YCbCr -> RGB matrix: 3.0 for Y, 3.26 for Cb, 2.48 for Cr), so the allocation aims at the RGB
   error that PSNR measures.
4. **Allocation.** Each tile's options are reduced to their lower convex hull in (bytes, error); the hull
   segments of all tiles are taken in order of squared error removed per byte. Every prefix of that order is
   optimal for total squared error at its own byte count (it minimises error + λ·bytes; Lagrangian /
   Shoham–Gersho). Under a byte budget the greedy stops at the first segment that does not fit, then spends
   what is left on the steps that still fit (best error per byte first); so it is at least as good as any
   allocation of at most (budget − one hull segment) bytes. Tiles differ in cost (edge tiles are smaller,
   raw is a jump), so at exactly the same bytes a greedy can lose a little to another allocation (a uniform
   rank, say) on an image of a few tiles; where the problem is small (``EXACT_MAX_CELLS``) the budget rule
   therefore solves the knapsack exactly by dynamic programming instead. For a target PSNR the smallest
   prefix whose prediction meets the target is encoded, **decoded from its bytes, rounded to 8 bits and
   measured** with ``metrics.psnr`` against ``image.reference_image``; if the measurement misses
   (float16/int8 rounding, 8-bit rounding, YCbCr), more segments are taken until it does.
5. **Bytes.** ``TileCompression.to_bytes()`` is a real file and ``decode_tiles`` rebuilds the image from
   it alone; ``total_bytes == len(to_bytes())``. Layout (little-endian), section by section:

   ========================  ==============================================================================
   header (17 bytes)         b"LRT1", then version 1, mode, dtype, tile side, channels (uint8), H, W (uint32)
   rank codes                one uint8 per tile (channel, tile row, tile column): the rank, or 255 for raw
   means                     one per non-raw tile: float32 (dtype float32), float16 (float16), or uint8 of
                             round(255·(μ + offset)) (int8; offset 128/255 for chroma, else 0)
   raw pixels                h'·w' uint8 per raw tile, round(255·(x + offset)), row-major
   a                         h'·r values per tile of rank r >= 1 (row-major (h', r)), at the dtype
   b                         r·w' values per tile of rank r >= 1 (row-major (r, w')), at the dtype
   int8 only: a scales       r float16 per tile of rank r >= 1: max|a column| / 127 (a = int8 × scale)
   int8 only: b scales       one float16 per tile of rank r >= 1: max|b| / 127 over the tile's b
   ========================  ==============================================================================

   So a tile costs 1 (rank code) + mean + r(h' + w')·(4 | 2 | 1) + (int8: 2r + 2), or 1 + h'·w' raw.
6. **The curve.** ``tile_rate_distortion`` measures the codec at a range of budgets on the same working copy
   as ``image.rate_distortion``, so the tile SVD is drawn beside the global SVD, JPEG and downsampling.

Pure torch (and numpy for the bookkeeping of the allocation); no Streamlit, no plotly.
"""


from . import codec as _codec
from . import curve as _curve
from . import fileformat as _fileformat
from . import geometry as _geometry
from .codec import *  # noqa: F403
from .curve import *  # noqa: F403
from .fileformat import *  # noqa: F403
from .geometry import *  # noqa: F403

__all__ = [*_geometry.__all__, *_codec.__all__, *_fileformat.__all__, *_curve.__all__]
