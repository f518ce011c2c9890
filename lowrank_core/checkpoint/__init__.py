"""Real checkpoints: read a model file, describe every weight's spectrum, and export it factored.

- ``reading.py``: ``read_checkpoint`` (``.safetensors``, and ``torch.save`` state dicts through
  ``torch_files.load_weights_only``; never pickle), the candidate weights and the ones skipped, with why;
- ``inspection.py``: ``inspect_checkpoint`` (the table of ranks), ``weight_detail`` (one weight's curves),
  ``layer_inputs`` and ``weight_timing``;
- ``export.py``: ``export_factored`` (a ``.safetensors`` of ``NAME.a`` / ``NAME.b`` factors with their
  metadata), ``rank_pattern_json`` and ``load_factored``.

Each module's docstring says the details; every public name is importable from here.
"""

from . import export as _export
from . import inspection as _inspection
from . import reading as _reading
from .export import *  # noqa: F403
from .inspection import *  # noqa: F403
from .reading import *  # noqa: F403

__all__ = [name for name in [*_reading.__all__, *_inspection.__all__, *_export.__all__]
           if name not in ("quoted", "resolve_method")]
