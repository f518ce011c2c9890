"""The corpus uploaded to the matrix and image pages (AppTest), plus numerical edge cases of the core.

One AppTest session per page takes every file of its kind in turn, as a user trying file after file
would: after each upload there is no exception, and either the documented error (``st.error``) or a
rendered result with the documented notice and no NaN in any number. A file name that is HTML markup is
only ever shown as plain text.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from lowrank_core import factorize, predicted_error_curve, truncation_error
from lowrank_core.errors import InputError, LowRankError, RankError
from tests.conftest import APP
from tests.corpus.make_corpus import FILES, HTML_NAME, MANIFEST, MARKER
from tests.pages import scrubber

MATRIX_CASES = [case for case in MANIFEST if case.kind == "matrix"]
PAGE_TOO_SLOW = {"downscale_2400x2000.png"}  # starts a ~20 s exact SVD in the background; see test_corpus
IMAGE_CASES = [case for case in MANIFEST if case.kind == "image" and case.file not in PAGE_TOO_SLOW]
PLAIN_TEXT_TYPES = {"text", "code"}  # elements that show a string literally (never as markdown or HTML)
NOT_A_NUMBER = re.compile(r"\b(nan|inf)\b", re.IGNORECASE)
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # see test_corpus


def _ids(cases):
    return [case.file for case in cases]


def _unescape(text: str) -> str:
    """Undo the pages' markdown escaping (a backslash before each punctuation mark)."""
    return re.sub(r"\\(.)", r"\1", text)


def _walk(node):
    """Every block and element under ``node``."""
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _walk(child)


def _nodes(at: AppTest):
    return [node for root in (at.main, at.sidebar) for node in _walk(root)]


def _upload(at: AppTest, key: str, case) -> None:
    data = (FILES / case.file).read_bytes()
    at.file_uploader(key=key).set_value((case.name, data, "application/octet-stream")).run()


def _check_outcome(at: AppTest, case, *, result_metric: str) -> None:
    """No exception; the documented error, or a result with the documented notice and no NaN."""
    assert not at.exception, [e.value for e in at.exception]
    assert not MARKER.exists(), "a pickle payload ran"
    outcome, fragment = case.refused_later or (case.outcome, case.fragment)
    errors = [_unescape(e.value) for e in at.error]
    if outcome != "ok":
        assert any(fragment in message for message in errors), errors
        assert result_metric not in [m.label for m in at.metric]  # the page stopped at the error
        return
    assert errors == []
    metrics = {m.label: m.value for m in at.metric}
    assert result_metric in metrics
    bad = {label: value for label, value in metrics.items() if NOT_A_NUMBER.search(str(value))}
    assert bad == {}, f"numbers shown as NaN or infinity: {bad}"
    captions = [c.value for c in at.caption if NOT_A_NUMBER.search(c.value)]
    assert captions == [], captions
    if fragment:
        assert any(fragment in _unescape(i.value) for i in at.info), [i.value for i in at.info]


@pytest.fixture(autouse=True)
def _marker_absent():
    MARKER.unlink(missing_ok=True)
    yield
    assert not MARKER.exists()


# ================================================================================================ matrix


@pytest.fixture(scope="module")
def matrix_page():
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/matrix.py").run()
    at.segmented_control(key="matrix_source").set_value("upload").run()
    assert not at.exception
    return at


@pytest.mark.parametrize("case", MATRIX_CASES, ids=_ids(MATRIX_CASES))
def test_matrix_page_takes_every_corpus_file(matrix_page, case):
    _upload(matrix_page, "matrix_upload", case)
    _check_outcome(matrix_page, case, result_metric="numerical rank")
    if case.outcome == "ok" and case.refused_later is None:
        m, n = case.shape
        assert any(f"W is {m} × {n}" in c.value for c in matrix_page.caption)


def test_matrix_page_all_zero_matrix_shows_zero_error(matrix_page):
    zeros = next(case for case in MATRIX_CASES if case.file == "zeros.csv")
    _upload(matrix_page, "matrix_upload", zeros)
    for rank in (0, 1, 2):
        scrubber.settle(matrix_page, "matrix_scrub", rank)
        assert not matrix_page.exception
        metrics = {m.label: m.value for m in matrix_page.metric}
        assert float(metrics["relative Frobenius error"]) == 0.0  # 0/0 is shown as 0, not NaN
        assert float(metrics["relative spectral error"]) == 0.0


# ================================================================================================= image


@pytest.fixture(scope="module")
def image_page():
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.session_state["image_source"] = "upload"  # straight to the uploader: the default sample's
    at.switch_page("pages/image.py").run()  # rate-distortion job would take a minute on two cores
    assert not at.exception
    assert at.radio(key="image_source").value == "upload"
    yield at
    from ui.jobs import job_board  # the page's background jobs: let them finish before exit

    job_board().wait()


@pytest.mark.parametrize("case", IMAGE_CASES, ids=_ids(IMAGE_CASES))
def test_image_page_takes_every_corpus_file(image_page, case):
    _upload(image_page, "image_upload", case)
    _check_outcome(image_page, case, result_metric="PSNR")
    if case.outcome == "ok" and case.refused_later is None:
        _, height, width = case.shape
        assert any(f"{width}×{height} pixels" in c.value for c in image_page.caption)
        assert len(image_page.get("image")) >= 1  # the picture is drawn


# ============================================================================================ HTML names


def _check_html_name_is_plain_text(at: AppTest, key: str, file: str) -> None:
    case = next(case for case in MANIFEST if case.file == file)
    assert case.name.startswith(HTML_NAME)
    _upload(at, key, case)
    assert not at.exception
    nodes = [node for node in _nodes(at) if getattr(node, "proto", None) is not None]
    shown_as_text = [node for node in nodes
                     if getattr(node, "type", None) in PLAIN_TEXT_TYPES and HTML_NAME in str(node.proto)]
    assert shown_as_text, "the file name should be shown (as plain text)"
    as_markup = [f"{getattr(node, 'type', type(node).__name__)}: {str(node.proto)[:200]}" for node in nodes
                 if getattr(node, "type", None) not in PLAIN_TEXT_TYPES and HTML_NAME in str(node.proto)]
    assert as_markup == []


def test_an_html_file_name_is_only_plain_text_on_the_matrix_page(matrix_page):
    _check_html_name_is_plain_text(matrix_page, "matrix_upload", "html_name.csv")


def test_an_html_file_name_is_only_plain_text_on_the_image_page(image_page):
    _check_html_name_is_plain_text(image_page, "image_upload", "html_name.png")


# ====================================================================================== core edge cases


def test_all_zero_matrix_has_zero_relative_error_at_every_rank():
    x = torch.zeros(4, 6)
    factorization = factorize(x)
    np.testing.assert_array_equal(factorization.S.numpy(), np.linalg.svd(np.zeros((4, 6)), compute_uv=False))
    for rank in range(0, 5):
        error = truncation_error(x, factorization, rank, measure_spectral=True)
        assert error.relative == 0.0 and error.frobenius == 0.0 and error.spectral == 0.0
    curve = predicted_error_curve(factorization, relative=True)
    assert bool(torch.isfinite(curve).all()) and float(curve.abs().max()) == 0.0


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (1, 4), (2, 3, 4)])
def test_a_rank_above_min_m_n_is_a_rank_error(shape):
    x = torch.arange(float(np.prod(shape))).reshape(shape)
    factorization = factorize(x)
    k = min(shape[-2:])
    assert factorization.max_rank == k
    for call in (lambda: factorization.factors(k + 1), lambda: factorization.reconstruct(k + 1),
                 lambda: truncation_error(x, factorization, k + 1), lambda: factorization.factors(-1),
                 lambda: factorize(x, max_rank=k + 1)):
        with pytest.raises(RankError):
            call()
    torch.testing.assert_close(factorization.reconstruct(k), x, atol=1e-4 * float(x.abs().max()), rtol=0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_or_infinity_in_the_data_is_refused_by_the_core(bad):
    x = torch.ones(3, 4)
    x[1, 2] = bad
    with pytest.raises(InputError, match="NaN or infinite"):
        factorize(x)


def test_values_near_the_float32_limit_do_not_turn_into_nan():
    """Entries of 3e38 are finite in float32 (the loader accepts them), but σ₁ ≈ 4.6e38 is not.

    The core must say so (a LowRankError) or return finite singular values — never inf or NaN that the
    pages then show as numbers.
    """
    x = torch.tensor([[3e38, 3e38, 1.5e38], [3e38, -3e38, 0.75e38]])
    expected = np.linalg.svd(x.double().numpy(), compute_uv=False)  # float64 oracle
    assert expected[0] > np.finfo(np.float32).max
    try:
        factorization = factorize(x)
    except LowRankError:
        return
    S = factorization.S
    assert bool(torch.isfinite(S).all()), f"singular values {S.tolist()}"
