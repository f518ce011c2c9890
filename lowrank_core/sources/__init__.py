"""Where matrices and images come from: seeded generators, sample images, and loaders for uploads.

- ``generators``: ``notebook_matrix``, ``noisy_low_rank``, ``decaying_spectrum``, ``hilbert``... return a
  float32 matrix of shape (m, n); the seeded ones draw from a local ``torch.Generator`` so a seed always gives
  the same matrix. ``GENERATORS`` describes them (with their controls) for the UI; ``generate`` calls one.
- ``samples``: photographs shipped in ``lowrank_core/data/samples`` (public domain / CC0, see the LICENSE.md
  there) and procedural images (``procedural_image``), loaded by ``load_sample``.
- ``quiz``: the quiz's 21 pictures (the photographs and 16 more in ``lowrank_core/data/quiz``, public domain /
  CC0), loaded by ``load_quiz_picture``.
- ``image_file``: ``load_image`` (bytes of any image Pillow reads); ``matrix_file``: ``load_matrix`` (CSV /
  TSV / text, .npy, .npz, .pt). They never unpickle, refuse decompression bombs before decoding, bound every
  size, and raise nothing but ``InputError`` subclasses whose message names the place of the problem.

Images come out as float32 tensors of shape (C, H, W) in [0, 1], with C = 1 (grey) or 3 (RGB). Every limit
is defined in ``lowrank_core.limits`` and importable from here too (``sources.MAX_SEED``...).

Thread safety: nothing here changes global state (no global RNG, no ``Image.MAX_IMAGE_PIXELS``, no
``warnings`` filters), so the loaders may run in several Streamlit sessions at once.
"""

from ..limits import *  # noqa: F403  (every limit is importable from here too)
from ..limits import __all__ as _limit_names
from . import generators as _generators
from . import image_file as _image_file
from . import matrix_file as _matrix_file
from . import quiz as _quiz
from . import samples as _samples
from .generators import *  # noqa: F403
from .image_file import *  # noqa: F403
from .matrix_file import *  # noqa: F403
from .quiz import *  # noqa: F403
from .samples import *  # noqa: F403

__all__ = list(dict.fromkeys([*_limit_names, *_generators.__all__, *_samples.__all__, *_image_file.__all__,
                             *_matrix_file.__all__, *_quiz.__all__]))
