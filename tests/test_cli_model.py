"""`python -m lowrank_core model`: the checkpoint table and the factored export, checked against numpy."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import safetensors.torch
import torch
from torch import nn

from lowrank_core.checkpoint import load_factored
from lowrank_core.cli import main
from tests.conftest import ROOT


@pytest.fixture
def state_dict_file(tmp_path) -> pathlib.Path:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(48, 32), nn.ReLU(), nn.Linear(32, 10), nn.Conv2d(3, 8, 3))
    path = tmp_path / "model.pt"
    torch.save(model.state_dict(), path)
    return path


def _json(capsys, *args: str) -> dict:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_model_lists_every_weight(capsys, state_dict_file):
    report = _json(capsys, "model", str(state_dict_file))
    assert report["source_format"] == "torch" and report["other_tensors"] == 3
    rows = {row["name"]: row for row in report["weights"]}
    assert set(rows) == {"0.weight", "2.weight", "3.weight"}
    assert rows["3.weight"]["shape"] == [8, 3, 3, 3] and rows["3.weight"]["matrix_shape"] == [8, 27]
    W = torch.load(state_dict_file, weights_only=True)["0.weight"].double().numpy()
    S = np.linalg.svd(W, compute_uv=False)
    assert rows["0.weight"]["stable_rank"] == pytest.approx((S**2).sum() / S[0] ** 2, rel=1e-5)
    assert rows["0.weight"]["numerical_rank"] == 32
    assert rows["0.weight"]["break_even_rank"] == pytest.approx(32 * 48 / 80)


def test_model_text_table(capsys, state_dict_file):
    assert main(["model", str(state_dict_file)]) == 0
    out = capsys.readouterr().out
    assert "0.weight" in out and "break-even" in out and "3×8×3×3" not in out and "8×3×3×3" in out


@pytest.mark.parametrize("allocation", ["greedy", "uniform", "energy"])
def test_model_budget_writes_a_factored_checkpoint(capsys, state_dict_file, tmp_path, allocation):
    output = tmp_path / "small.safetensors"
    report = _json(capsys, "model", str(state_dict_file), "--budget", "0.3", "-o", str(output),
                   "--allocation", allocation)
    assert report["allocation"] == allocation
    assert report["parameters_before"] == 32 * 48 + 10 * 32 + 8 * 27
    assert report["parameters_after"] <= 0.3 * report["parameters_before"]
    tensors = safetensors.torch.load(output.read_bytes())
    original = torch.load(state_dict_file, weights_only=True)
    for layer in report["layers"]:
        assert set(layer) >= {"name", "shape", "rank", "parameters", "relative_error"}
        name = layer["name"]
        if not layer["factored"]:
            assert torch.equal(tensors[name], original[name])
            continue
        assert report["rank_pattern"][name] == layer["rank"]
        a, b = tensors[name + ".a"].double(), tensors[name + ".b"].double()
        W = original[name].reshape(original[name].shape[0], -1).double().numpy()
        S = np.linalg.svd(W, compute_uv=False)
        r = layer["rank"]
        assert layer["relative_error"] == pytest.approx(np.sqrt((S[r:] ** 2).sum() / (S**2).sum()), rel=1e-4)
        assert layer["parameters"] == int(a.numel() + b.numel())
    module = load_factored(output.read_bytes())
    assert set(module.factored_layers) == set(report["rank_pattern"])


def test_model_budget_writes_the_rank_pattern(capsys, state_dict_file, tmp_path):
    pattern = tmp_path / "ranks.json"
    report = _json(capsys, "model", str(state_dict_file), "--budget", "0.5", "-o",
                   str(tmp_path / "o.safetensors"), "--rank-pattern", str(pattern))
    assert json.loads(pattern.read_text()) == report["rank_pattern"]


def test_model_reads_safetensors(capsys, tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(safetensors.torch.save({"w": torch.randn(20, 10), "b": torch.zeros(20)}))
    report = _json(capsys, "model", str(path))
    assert report["source_format"] == "safetensors" and [r["name"] for r in report["weights"]] == ["w"]


def _start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "lowrank_core", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_bad_files_exit_2_with_one_line(tmp_path):
    """Every bad case as a user runs it (started together): exit 2, one `error:` line, no traceback."""
    marker = tmp_path / "ran"
    (tmp_path / "text.safetensors").write_text("not a checkpoint")
    (tmp_path / "empty.pt").write_bytes(b"")
    script = (
        "import pathlib, pickle, sys, torch\n"
        "class P:\n"
        f"    def __reduce__(self): return (pathlib.Path.touch, (pathlib.Path({str(marker)!r}),))\n"
        f"torch.save({{'weight': torch.ones(2, 2), 'x': P()}}, {str(tmp_path / 'payload.pt')!r})\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    cases = {
        "text": ("model", str(tmp_path / "text.safetensors")),
        "empty": ("model", str(tmp_path / "empty.pt")),
        "payload": ("model", str(tmp_path / "payload.pt")),
        "missing": ("model", str(tmp_path / "missing.pt")),
        "extension": ("model", str(tmp_path / "model.onnx")),
        "budget_without_output": ("model", str(tmp_path / "payload.pt"), "--budget", "0.5"),
    }
    started = {name: _start(*args) for name, args in cases.items()}
    for name, process in started.items():
        _, stderr = process.communicate(timeout=180)
        assert process.returncode == 2, (name, stderr)
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (name, stderr)
        assert "Traceback" not in stderr
    assert not marker.exists()
