"""``compress`` over several images or a folder (issue 12): one report per image, an output folder, a failing
image that does not stop the others, and a progress bar on a terminal only."""

import json
import os
import pty
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from lowrank_core.cli import main
from tests.conftest import ROOT
from tests.core.cli.test_compress import picture


@pytest.fixture
def folder(tmp_path):
    """Three readable images (PNG colour, JPEG grey, BMP colour), a text file named .png, a non-image."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(picture(seed=1)).save(inputs / "a.png")
    Image.fromarray(picture(32, 48, channels=1, seed=2)).save(inputs / "b.jpg", quality=95)
    Image.fromarray(picture(24, 40, seed=3)).save(inputs / "c.bmp")
    (inputs / "broken.png").write_text("this is not an image\n")
    (inputs / "notes.txt").write_text("not an image either, and not named like one\n")
    return inputs


def _run(capsys, argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_folder_of_images_goes_to_an_output_folder(capsys, folder, tmp_path):
    out, factors = tmp_path / "out", tmp_path / "factors"
    code, stdout, stderr = _run(capsys, ["compress", folder, "--psnr", 30, "-o", out, "--factors", factors,
                                         "--format", "webp", "--json"])
    reports = json.loads(stdout)
    names = ("a.png", "b.jpg", "broken.png", "c.bmp")
    assert [r["input"] for r in reports] == [str(folder / n) for n in names]
    good = [r for r in reports if "error" not in r]
    assert [r["output"] for r in good] == [str(out / n) for n in ("a.webp", "b.webp", "c.webp")]
    for report in good:
        source = Image.open(report["input"])
        shown = Image.open(report["output"])
        assert shown.format == "WEBP"
        source = np.asarray(source, dtype=np.float64) / 255
        shown = np.asarray(shown.convert("L" if report["channels"] == 1 else "RGB"), dtype=np.float64) / 255
        assert shown.shape == source.shape  # WebP holds grey as RGB: read back as grey
        assert peak_signal_noise_ratio(source, shown, data_range=1) >= 30  # met on the written file
        assert report["factors_file"] == str(factors / (os.path.basename(report["input"]).rsplit(".")[0]
                                                        + ".npz"))
        assert report["factors_file_bytes"] == os.path.getsize(report["factors_file"])
    # the failing image is reported and named, the others are written, and the status says something failed
    broken = next(r for r in reports if "error" in r)
    assert broken["input"].endswith("broken.png") and "not an image" in broken["error"]
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "broken.png" in lines[0] and "Traceback" not in stderr
    assert not (out / "broken.webp").exists()


def test_several_named_images_give_one_report_each_in_text(capsys, folder, tmp_path):
    out = tmp_path / "out"
    code, stdout, stderr = _run(capsys, ["compress", folder / "a.png", folder / "c.bmp", "--rank", 3,
                                         "-o", out])
    assert code == 0 and stderr == ""
    blocks = stdout.strip().split("\n\n")
    assert len(blocks) == 2 and blocks[0].startswith(str(folder / "a.png")) and "rank 3" in blocks[1]
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "c.png"]


@pytest.mark.parametrize(("argv", "words"), [
    (["{folder}", "--rank", "3", "-o", "{folder}/a.png"], ["-o", "folder", "a.png"]),
    (["{empty}", "--rank", "3", "-o", "{tmp}/out"], ["no image", "empty"]),
    (["{folder}/a.png", "--rank", "3", "-o", "{tmp}/o.png", "--format", "gif"], ["--format", "gif"]),
], ids=["output-is-a-file", "empty-folder", "unknown-batch-format"])
def test_a_bad_batch_exits_2_with_one_line(capsys, folder, tmp_path, argv, words):
    (tmp_path / "empty").mkdir()
    args = [a.format(folder=folder, empty=tmp_path / "empty", tmp=tmp_path) for a in argv]
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(main(["compress", *args]))
    assert exited.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1 and "Traceback" not in captured.err
    assert all(word in lines[0] for word in words), lines[0]
    assert not (tmp_path / "out").exists()


def _compress_on(stderr, folder, out) -> subprocess.CompletedProcess:
    """Run the command in a subprocess with ``stderr`` as its standard error (a terminal, or a pipe)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "lowrank_core", "compress", str(folder), "--rank", "2",
                           "-o", str(out)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr,
                          text=True, timeout=180, check=False)


def _read_all(leader: int) -> str:
    """Everything written to a terminal whose other end is closed."""
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # Linux reports the closed other end as EIO: everything was read
            break
        if not chunk:
            break
        drawn += chunk
    return drawn.decode()


def test_a_progress_bar_on_a_terminal_and_none_in_a_pipe(folder, tmp_path):
    (folder / "broken.png").unlink()
    leader, follower = pty.openpty()
    try:
        on_terminal = _compress_on(follower, folder, tmp_path / "tty")
        os.close(follower)
        bar = _read_all(leader)
    finally:
        os.close(leader)
    assert on_terminal.returncode == 0
    assert "1/3" in bar and "2/3" in bar and "3/3" in bar and "[" + "#" * 24 + "]" in bar
    assert "\r" in bar  # redrawn in place, on one line
    assert "[#" not in on_terminal.stdout  # the bar never mixes with the report
    in_a_pipe = _compress_on(subprocess.PIPE, folder, tmp_path / "pipe")
    assert in_a_pipe.returncode == 0 and in_a_pipe.stderr == ""
    assert in_a_pipe.stdout == on_terminal.stdout.replace(str(tmp_path / "tty"), str(tmp_path / "pipe"))
