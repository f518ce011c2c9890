"""The core's one torch.load: tensors and plain containers come back; any other object is refused before it
runs (its __reduce__ would write a file), whatever the caller."""

import collections
import io

import pytest
import torch

from lowrank_core.errors import UnsafeFileError
from lowrank_core.torch_files import load_weights_only


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


class _Payload:
    """An object whose unpickling would run code: it creates ``path``."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_tensors_and_plain_containers_come_back_as_saved():
    state = collections.OrderedDict(fc=torch.arange(6.0).reshape(2, 3), meta={"n": 3, "names": ["a", "b"]})
    loaded = load_weights_only(_saved(state), "'m.pt'")
    assert torch.equal(loaded["fc"], state["fc"]) and loaded["meta"] == {"n": 3, "names": ["a", "b"]}


def test_any_other_object_is_refused_before_it_runs(tmp_path):
    target = tmp_path / "ran"
    with pytest.raises(UnsafeFileError, match=r"^'evil.pt' .*(other than tensors and plain|full unpickling)"):
        load_weights_only(_saved({"w": torch.ones(2), "x": _Payload(target)}), "'evil.pt'",
                          holds="tensors and plain containers")
    assert not target.exists()


def test_a_damaged_file_is_left_to_the_caller_to_word():
    data = _saved({"w": torch.ones(4)})
    with pytest.raises(Exception) as info:
        load_weights_only(data[: len(data) // 2], "'cut.pt'")
    assert not isinstance(info.value, UnsafeFileError)
