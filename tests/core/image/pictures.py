"""Test pictures and oracles shared by the tests of lowrank_core.image: smooth 8-bit images, the JFIF colour
matrices written out independently of the module's constants, and numpy's float64 truncation.
"""

import numpy as np
import torch

# JFIF / ITU-T T.871, written out here independently of the module's constants.
FORWARD = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
INVERSE = np.array([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]])
BYTES = {"float32": 4, "float16": 2, "int8": 1}


def _smooth(channels: int, height: int, width: int, seed: int) -> np.ndarray:
    """A smooth (C, H, W) float64 image in [0, 1] with some texture: blobs over a gradient, plus noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    planes = []
    for _ in range(channels):
        plane = 0.4 * xx / width + 0.3 * yy / height
        for _ in range(5):
            cy, cx, radius = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(3, 12)
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
            plane = plane + rng.uniform(0.2, 0.6) * blob
        planes.append(plane + 0.03 * rng.standard_normal(plane.shape))
    image = np.stack(planes)
    return (image - image.min()) / (image.max() - image.min())


def _eight_bit(image: np.ndarray) -> torch.Tensor:
    """The image rounded to k/255 (as a decoded 8-bit file is), as float32."""
    return torch.from_numpy(np.round(image * 255) / 255).float()


COLOUR = _eight_bit(_smooth(3, 48, 64, seed=1))  # (3, 48, 64)
GREY = _eight_bit(_smooth(1, 40, 56, seed=2))  # (1, 40, 56)


def _truncate(channel: np.ndarray, rank: int) -> np.ndarray:
    """numpy's float64 rank-r truncation of one (H, W) channel."""
    U, S, Vh = np.linalg.svd(channel, full_matrices=False)
    return (U[:, :rank] * S[:rank]) @ Vh[:rank]
