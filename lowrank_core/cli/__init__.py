"""The command line, ``python -m lowrank_core``: the notebook replayed, a file described, images compressed,
a checkpoint inspected or factored.

Each command is a function that returns a plain dict (the JSON report, snake_case keys); printing is
separate (``format_*``), and ``main`` maps user errors to exit status 2 with one line on stderr.

    python -m lowrank_core demo [--seed S] [--json]
    python -m lowrank_core info FILE [--json]
    python -m lowrank_core compress IMAGE... (--rank R | --energy F | --psnr DB | --bytes N) -o OUT
        [--mode rgb|luminance|ycbcr] [--chroma-rank R] [--dtype float32|float16|int8] [--factors OUT.npz]
        [--tiles S] [--format png|jpg|webp] [--json]
    python -m lowrank_core model FILE [--json]
    python -m lowrank_core model FILE --budget F -o OUT.safetensors [--allocation greedy|uniform|energy]
        [--json]

One module a command (``demo``, ``info``, ``compress``, ``model``), ``files`` for what they share and
``main`` for the parser.
"""

from . import compress as _compress
from . import demo as _demo
from . import files as _files
from . import info as _info
from . import main as _main
from . import model as _model
from .compress import *  # noqa: F403
from .demo import *  # noqa: F403
from .files import *  # noqa: F403
from .info import *  # noqa: F403
from .main import *  # noqa: F403
from .model import *  # noqa: F403

__all__ = [*_files.__all__, *_demo.__all__, *_info.__all__, *_compress.__all__, *_model.__all__,
           *_main.__all__]
