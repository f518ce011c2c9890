"""Exporting a checkpoint factored, and loading such a file back into a module.

Exporting (``export_factored``): a ``.safetensors`` holding ``NAME.a`` (out × r) and ``NAME.b`` (r × in·kh·kw)
for each factored weight, every other tensor unchanged under its own name, and ``__metadata__`` recording
each factored weight's original shape and rank (``FACTORED_METADATA_KEY``) and the ``rank_pattern``.
``load_factored`` reads such a file back into an ``nn.Module`` with ``LowRankLinear`` layers.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import safetensors
import safetensors.torch
import torch
from torch import Tensor, nn

from ..allocation import Allocation, ParameterTotals
from ..errors import (
    LowRankError,
    RankError,
)
from ..factorize import choose_device, factorize
from ..layers import LowRankLinear
from .inspection import EXACT_MAX_ENTRIES, resolve_method
from .reading import (
    DEFAULT_CHECKPOINT_LIMITS,
    Checkpoint,
    CheckpointError,
    CheckpointLimits,
    quoted,
    read_checkpoint,
)

__all__ = ["FACTORED_METADATA_KEY", "RANK_PATTERN_METADATA_KEY", "FORMAT_METADATA_KEY", "EXPORT_FORMAT",
           "ExportedLayer", "ExportedCheckpoint", "export_factored", "rank_pattern_json", "FactoredModule",
           "load_factored"]

FACTORED_METADATA_KEY = "lowrank_core.factored"
"""``__metadata__`` key of an export: JSON {name: {"shape": [...], "rank": r, "dtype": "float32"}}."""
RANK_PATTERN_METADATA_KEY = "lowrank_core.rank_pattern"
"""``__metadata__`` key of an export: JSON {name: rank}."""
FORMAT_METADATA_KEY = "lowrank_core.format"
EXPORT_FORMAT = "factored-v1"


@dataclass(frozen=True)
class ExportedLayer:
    """One weight of an export.

    Attributes
    ----------
    name : str
    shape : tuple of int
        The original shape.
    rank : int
        The rank kept (min(m, n) when left dense).
    factored : bool
    parameters_before, parameters_after : int
        m·n; r·(m + n) when factored.
    relative_error : float
        ‖W − a b‖_F / ‖W‖_F measured on the written factors (in their dtype), 0.0 when dense.
    """

    name: str
    shape: tuple[int, ...]
    rank: int
    factored: bool
    parameters_before: int
    parameters_after: int
    relative_error: float


@dataclass(frozen=True, eq=False)
class ExportedCheckpoint(ParameterTotals):
    """A factored checkpoint: the safetensors bytes and what they hold.

    Attributes
    ----------
    data : bytes
        The ``.safetensors`` file.
    layers : tuple of ExportedLayer
        Every analysed weight, in file order.
    rank_pattern : dict of str to int
        {name: rank} of the factored weights.
    """

    data: bytes
    layers: tuple[ExportedLayer, ...]
    rank_pattern: dict[str, int]


def _export_ranks(checkpoint: Checkpoint, ranks) -> dict[str, int]:
    """{name: rank} from an Allocation or a mapping, checked against the checkpoint."""
    pattern = dict(ranks.rank_pattern) if isinstance(ranks, Allocation) else dict(ranks)
    for name, rank in pattern.items():
        if name not in checkpoint.weights:
            raise LowRankError(f"{name!r} is not an analysed weight of {checkpoint.name!r}")
        m, n = checkpoint.matrix(name).shape
        if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= min(m, n):
            raise RankError(f"the rank of {name!r} ({m}×{n}) must be between 1 and {min(m, n)}; got {rank!r}")
    return pattern


def export_factored(checkpoint: Checkpoint, ranks: Allocation | Mapping[str, int], *,
                    method: str = "auto", exact_max_entries: int = EXACT_MAX_ENTRIES,
                    device=None) -> ExportedCheckpoint:
    """Write a checkpoint with the chosen weights replaced by their rank-r factors, as safetensors bytes.

    For each factored weight ``NAME`` of shape (out, in, ...): ``NAME.a`` (out, r) = U_r diag(S_r) and
    ``NAME.b`` (r, in·kh·kw) = Vh_r, in the weight's own dtype; every other tensor under its own name,
    unchanged. ``__metadata__`` holds ``FORMAT_METADATA_KEY`` ("factored-v1"), ``FACTORED_METADATA_KEY``
    (JSON {NAME: {"shape": original shape, "rank": r, "dtype": ...}}) and ``RANK_PATTERN_METADATA_KEY``
    (JSON {NAME: r}).

    Parameters
    ----------
    checkpoint : Checkpoint
    ranks : Allocation or mapping of str to int
        The ranks (an Allocation's ``rank_pattern``: its dense layers are left as they are).
    method : {"auto", "exact", "randomized"}
        The SVD of each factored weight: "auto" exact up to ``exact_max_entries`` entries, else randomized
        with exactly r triplets (q = r + 10, 4 power iterations).
    device : see ``choose_device``.
    """
    pattern = _export_ranks(checkpoint, ranks)
    device = choose_device(device)
    out: dict[str, Tensor] = {}
    factored_info, layers = {}, []
    for name, tensor in checkpoint.tensors.items():
        if name not in pattern:
            if name + ".a" in checkpoint.tensors or name + ".b" in checkpoint.tensors:
                raise LowRankError(f"{checkpoint.name!r} already holds {name!r}.a or .b")
            out[name] = tensor.contiguous().clone()  # shared storage (tied weights) cannot be saved twice
            continue
        r = pattern[name]
        matrix = checkpoint.matrix(name)  # (m, n)
        m, n = matrix.shape
        resolved = resolve_method(method, m * n, min(m, n), exact_max_entries, r)
        if resolved == "exact":
            factorization = factorize(matrix, method="exact", device=device)
        else:
            factorization = factorize(matrix, method="randomized", max_rank=r, device=device)
        a, b = factorization.factors(r)  # (m, r), (r, n)
        a, b = a.to("cpu", tensor.dtype).contiguous(), b.to("cpu", tensor.dtype).contiguous()
        for suffix in (".a", ".b"):
            if name + suffix in checkpoint.tensors:
                raise LowRankError(f"{checkpoint.name!r} already holds a tensor named {name + suffix!r}")
        out[name + ".a"], out[name + ".b"] = a, b
        factored_info[name] = {"shape": list(tensor.shape), "rank": r,
                               "dtype": str(tensor.dtype).removeprefix("torch.")}
    for name in checkpoint.weights:
        m, n = checkpoint.matrix(name).shape
        if name in pattern:
            r = pattern[name]
            a, b = out[name + ".a"].double(), out[name + ".b"].double()
            original = checkpoint.matrix(name).double()
            norm = float(torch.linalg.vector_norm(original))
            error = float(torch.linalg.vector_norm(original - a @ b)) / norm if norm > 0 else 0.0
            layers.append(ExportedLayer(name, tuple(checkpoint.tensors[name].shape), r, True, m * n,
                                        r * (m + n), error))
        else:
            layers.append(ExportedLayer(name, tuple(checkpoint.tensors[name].shape), min(m, n), False, m * n,
                                        m * n, 0.0))
    metadata = {
        FORMAT_METADATA_KEY: EXPORT_FORMAT,
        FACTORED_METADATA_KEY: json.dumps(factored_info),
        RANK_PATTERN_METADATA_KEY: rank_pattern_json(pattern),
    }
    data = safetensors.torch.save(out, metadata=metadata)
    return ExportedCheckpoint(data=data, layers=tuple(layers), rank_pattern=dict(pattern))


def rank_pattern_json(rank_pattern: Mapping[str, int]) -> str:
    """{name: rank} as JSON text, the form LoRA tools take (``rank_pattern``)."""
    return json.dumps({str(name): int(rank) for name, rank in rank_pattern.items()}, indent=None)


# ============================================================================================== reload


class FactoredModule(nn.Module):
    """A module tree built from an exported checkpoint when no architecture is given.

    Each factored ``PREFIX.weight`` becomes a ``LowRankLinear`` at ``PREFIX`` (with ``PREFIX.bias`` as its
    bias when present); a factored weight not named ``*.weight`` becomes a ``LowRankLinear`` under its own
    name. Every other tensor is a parameter (floating point) or a buffer at its place in the tree. It has no
    forward of its own: use its layers (``factored_layers``), or pass the architecture to ``load_factored``.

    Attributes
    ----------
    factored_layers : dict of str to str
        {weight name in the file: module path of its LowRankLinear}.
    original_shapes : dict of str to tuple of int
        The factored weights' shapes before factoring (conv kernels keep 4 dimensions here).
    """

    def __init__(self):
        super().__init__()
        self.factored_layers: dict[str, str] = {}
        self.original_shapes: dict[str, tuple[int, ...]] = {}

    def forward(self, *args, **kwargs):  # pragma: no cover - a container
        raise NotImplementedError("FactoredModule holds the layers of a checkpoint; call its layers")


def _factored_metadata(checkpoint: Checkpoint) -> dict[str, dict]:
    """The export's {name: {"shape", "rank", ...}}, checked against its .a and .b tensors."""
    label = f"The file {quoted(checkpoint.name)}"
    if checkpoint.metadata.get(FORMAT_METADATA_KEY) != EXPORT_FORMAT:
        raise CheckpointError(f"{label} is not a factored checkpoint written by lowrank_core (its "
                              f"__metadata__ has no {FORMAT_METADATA_KEY!r} = {EXPORT_FORMAT!r}).")
    try:
        info = json.loads(checkpoint.metadata.get(FACTORED_METADATA_KEY, "{}"))
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{label} has an unreadable {FACTORED_METADATA_KEY!r} entry ({err}).") from err
    if not isinstance(info, dict):
        raise CheckpointError(f"{label}: {FACTORED_METADATA_KEY!r} is not a JSON object.")
    for name, entry in info.items():
        a, b = checkpoint.tensors.get(name + ".a"), checkpoint.tensors.get(name + ".b")
        try:
            shape, rank = [int(side) for side in entry["shape"]], int(entry["rank"])
        except (TypeError, KeyError, ValueError) as err:
            raise CheckpointError(f"{label}: the entry of {name!r} in {FACTORED_METADATA_KEY!r} is "
                                  "malformed.") from err
        m, n = shape[0], math.prod(shape[1:])
        if a is None or b is None or tuple(a.shape) != (m, rank) or tuple(b.shape) != (rank, n):
            raise CheckpointError(f"{label}: {name!r}.a and .b should be {m}×{rank} and {rank}×{n} "
                                  f"(shape {shape}, rank {rank}).")
    return info


def _place(root: nn.Module, path: str, label: str) -> tuple[nn.Module, str]:
    """(parent module, last name) of a dotted path, making container modules on the way."""
    parts = path.split(".")
    module = root
    for part in parts[:-1]:
        child = module._modules.get(part)
        if child is None:
            if hasattr(module, part) or not part:
                raise CheckpointError(f"{label}: the name {quoted(path)} cannot become a module path.")
            child = nn.Module()
            module.add_module(part, child)
        module = child
    return module, parts[-1]


def load_factored(data: bytes | Checkpoint, *, model: nn.Module | None = None, name: str = "checkpoint",
                  limits: CheckpointLimits = DEFAULT_CHECKPOINT_LIMITS) -> nn.Module:
    """Load an ``export_factored`` file into a module with ``LowRankLinear`` layers.

    Parameters
    ----------
    data : bytes or Checkpoint
        The exported ``.safetensors`` (read by ``read_checkpoint``, with ``limits``).
    model : nn.Module, optional
        The architecture the checkpoint came from. A deep copy is returned in which every ``nn.Linear``
        whose ``PREFIX.weight`` was factored becomes a ``LowRankLinear`` holding the file's a and b; every
        other tensor is loaded by ``load_state_dict(strict=True)``. Without it, a ``FactoredModule`` tree is
        built from the names.

    Returns
    -------
    nn.Module
        On the CPU, in the file's dtypes, in eval mode.
    """
    checkpoint = data if isinstance(data, Checkpoint) else read_checkpoint(data, name=name, limits=limits)
    label = f"The file {quoted(checkpoint.name)}"
    info = _factored_metadata(checkpoint)
    factored_keys = {f"{key}{suffix}" for key in info for suffix in (".a", ".b")}
    if model is None:
        root = FactoredModule()
        used = set(factored_keys)
        for key, entry in info.items():
            prefix = key.removesuffix(".weight") if key.endswith(".weight") else key
            a, b = checkpoint.tensors[key + ".a"], checkpoint.tensors[key + ".b"]
            bias = checkpoint.tensors.get(prefix + ".bias") if key.endswith(".weight") else None
            if bias is not None and tuple(bias.shape) != (a.shape[0],):
                bias = None
            layer = torch.nn.utils.skip_init(LowRankLinear, b.shape[1], a.shape[0], a.shape[1],
                                             bias=bias is not None, dtype=a.dtype)
            with torch.no_grad():
                layer.a.copy_(a)
                layer.b.copy_(b)
                if bias is not None:
                    layer.bias.copy_(bias)
                    used.add(prefix + ".bias")
            parent, last = _place(root, prefix, label)
            if last in parent._modules or hasattr(parent, last):
                raise CheckpointError(f"{label}: the name {quoted(prefix)} is used twice.")
            parent.add_module(last, layer)
            root.factored_layers[key] = prefix
            root.original_shapes[key] = tuple(int(side) for side in entry["shape"])
        for key, tensor in checkpoint.tensors.items():
            if key in used:
                continue
            parent, last = _place(root, key, label)
            if last in parent._modules or hasattr(parent, last) or not last:
                raise CheckpointError(f"{label}: the name {quoted(key)} clashes with a layer.")
            if tensor.is_floating_point():
                parent.register_parameter(last, nn.Parameter(tensor.clone(), requires_grad=False))
            else:
                parent.register_buffer(last, tensor.clone())
        return root.eval()
    if not isinstance(model, nn.Module):
        raise LowRankError(f"expected a torch.nn.Module; got {type(model).__name__}")
    loaded = copy.deepcopy(model).cpu()
    state = {}
    for key, entry in info.items():
        prefix = key.removesuffix(".weight")
        if not key.endswith(".weight"):
            raise CheckpointError(f"{label}: {key!r} is not a layer's weight of this model.")
        try:
            linear = loaded.get_submodule(prefix)
        except AttributeError as err:
            raise CheckpointError(f"{label}: the model has no layer {prefix!r} for {key!r}.") from err
        if not isinstance(linear, nn.Linear) or len(entry["shape"]) != 2:
            raise CheckpointError(f"{label}: {prefix!r} is not an nn.Linear of the model.")
        a = checkpoint.tensors[key + ".a"]
        layer = torch.nn.utils.skip_init(LowRankLinear, linear.in_features, linear.out_features, a.shape[1],
                                         bias=linear.bias is not None, dtype=a.dtype)
        parent_name, _, child = prefix.rpartition(".")
        parent = loaded.get_submodule(parent_name) if parent_name else loaded
        setattr(parent, child, layer)
    for key, tensor in checkpoint.tensors.items():
        state[key] = tensor
    # LowRankLinear at PREFIX holds PREFIX.a / PREFIX.b; the file holds PREFIX.weight.a / .b
    for key in info:
        prefix = key.removesuffix(".weight")
        state[prefix + ".a"] = state.pop(key + ".a")
        state[prefix + ".b"] = state.pop(key + ".b")
    try:
        loaded.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{label} does not fit the model: {' '.join(str(err).split())[:300]}") from err
    return loaded.eval()
