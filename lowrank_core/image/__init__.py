"""SVD as an image codec: colour spaces, rank-r reconstructions, their storage, and a comparison with JPEG.

- ``colour``: the three colour modes ("rgb", "luminance", "ycbcr") and their transforms.
- ``pixels``: 8-bit rounding, Pillow images and encodings, sizes, resizing.
- ``codec``: ``ImageCodec``, the factorization of an image in a colour mode and every question a rank
  slider asks of it (reconstructions, bytes, energy, rank rules), answered by slicing its factors.
- ``rate_distortion``: the SVD beside JPEG and plain downsampling on the same image.

Torch, Pillow and numpy only: no Streamlit, no plotly.
"""

from . import codec as _codec
from . import colour as _colour
from . import pixels as _pixels
from . import rate_distortion as _rate_distortion
from .codec import *  # noqa: F403
from .colour import *  # noqa: F403
from .pixels import *  # noqa: F403
from .rate_distortion import *  # noqa: F403

# ``image.rate_distortion`` is the function, as before; the star import above rebinds the module's name.
__all__ = [*_colour.__all__, *_pixels.__all__, *_codec.__all__, *_rate_distortion.__all__]
