"""Reading ``torch.save`` bytes without running code: the one place the core calls ``torch.load``.

``torch.load(..., weights_only=True)`` unpickles only tensors and plain containers (dict, list, tuple,
numbers, strings); a file that needs anything else is refused with an ``UnsafeFileError`` before any of it
runs. The matrix loader (one tensor) and the checkpoint reader (a state dict) both read through here.
"""

from __future__ import annotations

import io
import pickle

import torch

from .errors import UnsafeFileError

__all__ = ["load_weights_only"]


def load_weights_only(data: bytes, label: str, *, holds: str = "tensors"):
    """``torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")``: tensors and plain containers.

    Parameters
    ----------
    data : bytes
        A ``torch.save`` file (its size already checked by the caller).
    label : str
        The file as messages name it ("'model.pt'").
    holds : str
        What the file may hold, for the refusal's message ("tensors", "tensors and plain containers").

    Raises
    ------
    UnsafeFileError
        The file holds other Python objects, or needs full unpickling.
    Exception
        Whatever else ``torch.load`` raises for a damaged file (the caller words it).
    """
    try:
        return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as err:
        raise UnsafeFileError(
            f"{label} contains Python objects other than {holds}; it is refused because loading it could run "
            "code."
        ) from err
    except Exception as err:
        if "weights_only" in str(err).lower() or "weights only" in str(err).lower():
            raise UnsafeFileError(f"{label} needs full unpickling to load; it is refused.") from err
        raise
