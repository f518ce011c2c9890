"""lowrank_core: low-rank approximation on torch — the engine behind Low-Rank Explorer.

No Streamlit and no plotly here: tensors in, tensors and small frozen dataclasses out. The names below are
the public API; ``image``, ``training``, ``limits`` and ``cli`` are imported as modules
(``from lowrank_core import image``).
"""

from . import allocation as _allocation
from . import budget as _budget
from . import budget_study as _budget_study
from . import checkpoint as _checkpoint
from . import errors as _errors
from . import factorize as _factorize
from . import layers as _layers
from . import metrics as _metrics
from . import rank as _rank
from . import sources as _sources
from . import timing as _timing
from .allocation import *  # noqa: F403
from .budget import *  # noqa: F403
from .budget_study import *  # noqa: F403
from .checkpoint import *  # noqa: F403
from .errors import *  # noqa: F403
from .factorize import *  # noqa: F403
from .layers import *  # noqa: F403
from .metrics import *  # noqa: F403
from .rank import *  # noqa: F403
from .sources import *  # noqa: F403
from .timing import *  # noqa: F403

__all__ = [
    *_allocation.__all__,
    *_budget_study.__all__,
    *_checkpoint.__all__,
    *_budget.__all__,
    *_errors.__all__,
    *_factorize.__all__,
    *_layers.__all__,
    *_timing.__all__,
    *_metrics.__all__,
    *_rank.__all__,
    *_sources.__all__,
]
__version__ = "0.1.0"
