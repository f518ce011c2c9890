"""ui.sweep and the sweep frames: ranks, GIFs, and frames that show numpy's reconstructions."""

import io

import numpy as np
import pytest
from PIL import Image

from lowrank_core import factorize, sources
from ui.limits import MAX_FRAME_SIDE
from ui.matrix.figures import matrix_sweep_frames
from ui.stills import colour_map, heatmap_image
from ui.sweep import gif_bytes, sweep_frame, sweep_ranks

FLOAT32_EPS = float(np.finfo(np.float32).eps)


@pytest.mark.parametrize(("to_rank", "count"), [(1, 1), (15, 15), (60, 60), (61, 60), (1000, 60)])
def test_sweep_ranks(to_rank, count):
    ranks = sweep_ranks(to_rank)
    assert len(ranks) == count
    assert ranks[0] == 1 and ranks[-1] == to_rank
    assert all(b > a for a, b in zip(ranks, ranks[1:], strict=False))


def test_gif_has_the_requested_frames_and_bounded_size():
    frames = [sweep_frame(heatmap_image(np.full((4, 4), float(i)), limit=10), np.arange(10, 0, -1.0), i,
                          label=f"rank {i}") for i in range(1, 13)]
    data = gif_bytes(frames)
    with Image.open(io.BytesIO(data)) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == 12
        assert gif.width <= MAX_FRAME_SIDE and gif.height <= MAX_FRAME_SIDE
        assert gif.info.get("loop") == 0
    with pytest.raises(ValueError, match="at most 60"):
        gif_bytes(frames * 6)


def test_sweep_frames_show_numpys_reconstructions():
    W = sources.notebook_matrix(15, 12, 4, seed=3)
    factorization = factorize(W)
    rows, cols = np.arange(15), np.arange(12)
    ranks = sweep_ranks(12)
    limit = float(np.abs(W.numpy()).max())
    frames = matrix_sweep_frames(factorization, rows, cols, ranks, limit=limit, log=True)
    assert len(frames) == 12 and all(max(f.size) <= MAX_FRAME_SIDE for f in frames)
    U, S, Vh = np.linalg.svd(W.double().numpy(), full_matrices=False)
    for r in (1, 2, 4, 12):
        W_r = (U[:, :r] * S[:r]) @ Vh[:r]
        expected = colour_map(W_r, limit).astype(int)  # (15, 12, 3)
        frame = frames[ranks.index(r)]
        picture = heatmap_image(W_r, limit=limit)
        # the picture is pasted centred below a 30-pixel label line, shrunk to fit the frame
        scale = min(MAX_FRAME_SIDE / picture.width, (MAX_FRAME_SIDE - 30 - 85 - 12) / picture.height, 1.0)
        width, height = int(picture.width * scale), int(picture.height * scale)
        left = (frame.width - width) // 2
        pixels = np.asarray(frame).astype(int)
        for i, j in [(0, 0), (5, 7), (14, 11), (9, 2)]:
            y = 30 + int((i + 0.5) * height / 15)
            x = left + int((j + 0.5) * width / 12)
            assert np.abs(pixels[y, x] - expected[i, j]).max() <= 3, (r, i, j)
