"""Real checkpoints: read a model file, describe every weight's spectrum, and export it factored.

Reading (``read_checkpoint``): ``.safetensors`` through the ``safetensors`` library, and ``torch.save`` files
(``.pt``, ``.pth``, ``.bin``) through ``torch.load(..., weights_only=True, map_location="cpu")`` after the
zip's inflated size was checked; never pickle. The format is told from the bytes, not the name. Nested
dictionaries (``{"model": {"fc": {"weight": ...}}}``) are flattened to dotted names (``model.fc.weight``).

Candidates: every floating-point tensor (float16, bfloat16, float32, float64) with at least two dimensions
whose sides are both at least 2, a conv kernel (out, in, kh, kw) being the matrix (out, in·kh·kw). A weight
over a limit (``CheckpointLimits``) or with NaN/infinity is listed in ``Checkpoint.skipped`` with its reason;
only an unreadable file is an error.

Inspecting (``inspect_checkpoint``): per weight, its numerical rank, stable rank ‖W‖_F²/‖W‖_2², the ranks
for 90 % and 99 % of the energy, the optimal-hard-threshold rank and the break-even rank mn/(m + n), from
an exact SVD up to ``EXACT_MAX_ENTRIES`` entries and a randomized one of ``RANDOMIZED_RANK`` triplets above
(as the image page does; the leading 256 of 512 computed, for accuracy); ``WeightSummary.method`` says
which. ``weight_detail`` gives one weight's spectrum, energy and measured relative error against rank
beside Eckart–Young's prediction, and the output error on inputs (the digits MLP's own activations when the
file is that model, random inputs otherwise); ``weight_timing`` the dense and factored forward time at the
weight's own shape.

Exporting (``export_factored``): a ``.safetensors`` holding ``NAME.a`` (out × r) and ``NAME.b`` (r × in·kh·kw)
for each factored weight, every other tensor unchanged under its own name, and ``__metadata__`` recording
each factored weight's original shape and rank (``FACTORED_METADATA_KEY``) and the ``rank_pattern``.
``load_factored`` reads such a file back into an ``nn.Module`` with ``LowRankLinear`` layers.

The package: ``reading`` (files to a ``Checkpoint``), ``inspection`` (spectra, rank rules, detail,
timing) and ``export`` (the factored safetensors file and ``load_factored``).
"""

from . import export as _export
from . import inspection as _inspection
from . import reading as _reading
from .export import *  # noqa: F403
from .inspection import *  # noqa: F403
from .reading import *  # noqa: F403

__all__ = [name for name in [*_reading.__all__, *_inspection.__all__, *_export.__all__]
           if name not in ("quoted", "resolve_method")]
