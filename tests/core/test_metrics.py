"""metrics.py against scikit-image (PSNR, SSIM) and numpy's SVD (Eckart–Young)."""

import math

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from lowrank_core.errors import ShapeError
from lowrank_core.factorize import factorize
from lowrank_core.metrics import image_error, mse, predicted_error_curve, psnr, ssim, truncation_error


def _smooth(channels: int, height: int, width: int, seed: int) -> np.ndarray:
    """A smooth (C, H, W) image in [0, 1]: a few Gaussian blobs over a gradient."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    planes = []
    for _ in range(channels):
        plane = 0.3 * xx / width + 0.2 * yy / height
        for _ in range(4):
            cy, cx, radius = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(4, 15)
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
            plane = plane + rng.uniform(0.2, 0.6) * blob
        planes.append(plane)
    image = np.stack(planes)
    return (image - image.min()) / (image.max() - image.min())


def _low_rank(image: np.ndarray, rank: int) -> np.ndarray:
    """numpy's rank-r truncation of each channel, clipped to [0, 1]."""
    U, S, Vh = np.linalg.svd(image, full_matrices=False)
    return np.clip((U[..., :rank] * S[..., None, :rank]) @ Vh[..., :rank, :], 0, 1)


def _pairs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(99)
    noise = rng.random((3, 40, 52))
    colour = _smooth(3, 64, 80, seed=1)
    grey = _smooth(1, 70, 45, seed=2)
    return {
        "noise_rgb": (noise, np.clip(noise + 0.1 * rng.standard_normal(noise.shape), 0, 1)),
        "noise_vs_noise_grey": (rng.random((1, 33, 29)), rng.random((1, 33, 29))),
        "low_rank_rgb": (colour, _low_rank(colour, 3)),
        "low_rank_grey": (grey, _low_rank(grey, 2)),
        "blurred_rgb": (colour, ndimage.gaussian_filter(colour, sigma=(0, 2, 2))),
        "blurred_grey": (grey, ndimage.gaussian_filter(grey, sigma=(0, 1.2, 1.2))),
        "quantized": (colour, np.round(colour * 15) / 15),
        "smallest": (rng.random((1, 11, 11)), rng.random((1, 11, 11))),
    }


PAIRS = _pairs()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", sorted(PAIRS))
def test_psnr_matches_scikit_image(name, dtype):
    a, b = PAIRS[name]
    expected = peak_signal_noise_ratio(a, b, data_range=1)
    ours = psnr(torch.from_numpy(a).to(dtype), torch.from_numpy(b).to(dtype))
    assert ours == pytest.approx(expected, abs=1e-3)
    assert mse(torch.from_numpy(a), torch.from_numpy(b)) == pytest.approx(np.mean((a - b) ** 2), rel=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", sorted(PAIRS))
def test_ssim_matches_scikit_image(name, dtype):
    a, b = PAIRS[name]
    expected = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=0
    )
    ours = ssim(torch.from_numpy(a).to(dtype), torch.from_numpy(b).to(dtype))
    assert ours == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("name", ["low_rank_grey", "blurred_grey"])
def test_ssim_of_a_two_dimensional_image_matches_scikit_image(name):
    a, b = PAIRS[name][0][0], PAIRS[name][1][0]  # (H, W)
    expected = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=1)
    assert ssim(torch.from_numpy(a), torch.from_numpy(b)) == pytest.approx(expected, abs=1e-3)


def test_metrics_with_a_data_range_of_255_match_scikit_image():
    a, b = PAIRS["low_rank_rgb"]
    a8, b8 = np.round(a * 255), np.round(b * 255)
    assert psnr(torch.from_numpy(a8), torch.from_numpy(b8), data_range=255) == pytest.approx(
        peak_signal_noise_ratio(a8, b8, data_range=255), abs=1e-3
    )
    expected = structural_similarity(a8, b8, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=255, channel_axis=0)
    ours = ssim(torch.from_numpy(a8), torch.from_numpy(b8), data_range=255)
    assert ours == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("name", ["noise_rgb", "low_rank_grey", "smallest"])
def test_identical_images(name):
    a = torch.from_numpy(PAIRS[name][0])
    assert ssim(a, a.clone()) == pytest.approx(1.0, abs=1e-12)
    assert psnr(a, a.clone()) == math.inf


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_image_error_matches_numpy_float64(name):
    a, b = PAIRS[name]
    ours = image_error(torch.from_numpy(a).float(), torch.from_numpy(b).float())
    a32, b32 = a.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64)
    expected_mse = np.mean((a32 - b32) ** 2)
    assert ours.mse == pytest.approx(expected_mse, rel=1e-6)
    assert ours.psnr == pytest.approx(peak_signal_noise_ratio(a32, b32, data_range=1), abs=1e-5)
    assert ours.relative == pytest.approx(np.linalg.norm(a32 - b32) / np.linalg.norm(a32), rel=1e-6)


def test_image_error_of_a_full_hd_8_bit_image_matches_numpy_float64():
    """The image page's case: a float32 reference against the 8-bit image shown, 6.2 million values."""
    rng = np.random.default_rng(7)
    reference = rng.random((3, 1080, 1920), dtype=np.float32)
    shown = np.clip(np.round((reference + 0.03 * rng.standard_normal(reference.shape)) * 255), 0, 255)
    shown = shown.astype(np.uint8)
    ours = image_error(torch.from_numpy(reference), torch.from_numpy(shown))
    difference = reference.astype(np.float64) - shown.astype(np.float64) / 255
    expected_mse = np.mean(difference**2)
    assert ours.mse == pytest.approx(expected_mse, rel=1e-6)
    assert ours.psnr == pytest.approx(10 * np.log10(1 / expected_mse), abs=1e-5)
    expected_relative = np.linalg.norm(difference) / np.linalg.norm(reference.astype(np.float64))
    assert ours.relative == pytest.approx(expected_relative, rel=1e-6)
    assert image_error(torch.from_numpy(reference) * 255, torch.from_numpy(shown),
                       data_range=255).psnr == pytest.approx(ours.psnr, abs=1e-4)
    swapped = image_error(torch.from_numpy(shown), torch.from_numpy(reference))  # uint8 as the reference
    assert swapped.mse == pytest.approx(expected_mse, rel=1e-6)
    expected_swapped = np.linalg.norm(difference) / np.linalg.norm(shown / 255)
    assert swapped.relative == pytest.approx(expected_swapped, rel=1e-6)


def test_image_error_edge_cases():
    zero = torch.zeros(1, 4, 5)
    assert image_error(zero, zero) == image_error(zero, zero.to(torch.uint8))
    same = image_error(zero, zero)
    assert (same.mse, same.psnr, same.relative) == (0.0, math.inf, 0.0)
    assert image_error(zero, torch.full((1, 4, 5), 0.5)).relative == math.inf
    ones = torch.ones(2, 3, 3)
    assert image_error(ones, torch.zeros(2, 3, 3)).relative == pytest.approx(1.0)
    with pytest.raises(ShapeError):
        image_error(torch.rand(3, 20, 20), torch.rand(3, 20, 21))


def test_psnr_shape_mismatch_is_refused():
    with pytest.raises(ShapeError):
        psnr(torch.rand(3, 20, 20), torch.rand(3, 20, 21))


def test_ssim_shape_mismatch_is_refused():
    with pytest.raises(ShapeError):
        ssim(torch.rand(1, 20, 20), torch.rand(3, 20, 20))


def test_ssim_of_a_four_dimensional_input_is_refused():
    with pytest.raises(ShapeError):
        ssim(torch.rand(1, 1, 20, 20), torch.rand(1, 1, 20, 20))


@pytest.mark.parametrize("shape", [(10, 30), (30, 10), (3, 10, 10)])
def test_ssim_on_an_image_smaller_than_the_window_is_refused(shape):
    with pytest.raises(ShapeError):
        ssim(torch.rand(shape), torch.rand(shape))


# ------------------------------------------------------------------------- truncation error


def _matrices() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    return {
        "gaussian": rng.standard_normal((25, 18)),
        "wide_low_rank": rng.random((12, 4)) @ rng.random((4, 30)),
        "stack": rng.random((3, 16, 21)),
    }


MATRICES = _matrices()


@pytest.mark.parametrize("name", sorted(MATRICES))
def test_spectral_error_is_the_next_singular_value(name):
    x = MATRICES[name]
    f = factorize(torch.from_numpy(x))
    S = np.linalg.svd(x, compute_uv=False)  # (..., k)
    k = S.shape[-1]
    for r in range(k + 1):
        result = truncation_error(torch.from_numpy(x), f, r)
        # σ_{r+1} (0-based S[r]); for a stack, the largest over channels
        expected = float(S[..., r].max()) if r < k else 0.0
        assert result.spectral == pytest.approx(expected, abs=1e-5 * S.max())
        assert result.predicted_spectral == pytest.approx(expected, abs=1e-5 * S.max())
        optimum = math.sqrt(np.sum(S[..., r:] ** 2))
        assert result.frobenius == pytest.approx(optimum, abs=1e-5 * np.linalg.norm(x))
        assert result.relative == pytest.approx(optimum / np.linalg.norm(x), abs=1e-5)
        kept = np.sum(S[..., :r] ** 2) / np.sum(S**2)
        assert result.energy_kept == pytest.approx(kept, abs=1e-6)


def test_spectral_error_is_not_measured_when_told_not_to():
    x = torch.rand(20, 20)
    result = truncation_error(x, factorize(x), 3, measure_spectral=False)
    assert result.spectral is None


def test_truncation_error_of_an_all_zero_matrix():
    x = torch.zeros(6, 4)
    f = factorize(x)
    for r in (0, 2, 4):
        result = truncation_error(x, f, r)
        assert result.relative == 0.0 and not math.isnan(result.relative)
        assert result.energy_kept == 1.0
        assert result.frobenius == 0.0 and result.predicted_frobenius == 0.0
        assert result.spectral == 0.0 and result.predicted_spectral == 0.0


def test_truncation_error_of_a_truncated_factorization_uses_the_total_energy():
    x = MATRICES["gaussian"]
    f = factorize(torch.from_numpy(x), max_rank=6)
    S = np.linalg.svd(x, compute_uv=False)
    for r in (0, 3, 6):
        result = truncation_error(torch.from_numpy(x), f, r)
        optimum = math.sqrt(np.sum(S[r:] ** 2))
        assert result.predicted_frobenius == pytest.approx(optimum, rel=1e-4)
        assert result.frobenius == pytest.approx(optimum, rel=1e-4)


@pytest.mark.parametrize("relative", [False, True])
@pytest.mark.parametrize("name", sorted(MATRICES))
def test_predicted_error_curve_matches_numpy(name, relative):
    x = MATRICES[name]
    f = factorize(torch.from_numpy(x))
    s2 = (np.linalg.svd(x, compute_uv=False) ** 2).reshape(-1, min(x.shape[-2:])).sum(0)
    tail = np.sqrt(np.concatenate([np.cumsum(s2[::-1])[::-1], [0.0]]))  # error at ranks 0..k
    if relative:
        tail = tail / np.linalg.norm(x)
    curve = predicted_error_curve(f, relative=relative)
    assert curve.dtype == torch.float64 and tuple(curve.shape) == (min(x.shape[-2:]) + 1,)
    np.testing.assert_allclose(curve.numpy(), tail, rtol=1e-5, atol=1e-6 * tail[0])


def test_predicted_error_curve_of_zeros_is_zero():
    f = factorize(torch.zeros(4, 7))
    np.testing.assert_array_equal(predicted_error_curve(f, relative=True).numpy(), np.zeros(5))
    np.testing.assert_array_equal(predicted_error_curve(f).numpy(), np.zeros(5))


def test_an_exact_8_bit_reconstruction_has_infinite_psnr():
    """Issue 12: an 8×8 upload at full rank showed 149.8 dB, because uint8 was scaled by × (1/255) while the
    loader divides by 255, and the two differ by an ulp for some values."""
    values = torch.arange(256, dtype=torch.uint8).reshape(1, 16, 16)  # every 8-bit value
    reference = values.float() / 255.0  # as the image loader writes pixels
    error = image_error(reference, values)
    assert error.mse == 0.0 and error.psnr == math.inf and error.relative == 0.0
    assert image_error(values, values).psnr == math.inf
