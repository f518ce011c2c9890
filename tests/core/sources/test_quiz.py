"""The quiz's pictures: at least 20, each loads, each file is named in a licence note, 5 MB at most."""

import numpy as np
import pytest
import torch

from lowrank_core import sources
from lowrank_core.errors import InputError


@pytest.mark.parametrize("name", sources.QUIZ_NAMES)
def test_every_quiz_picture_loads_as_a_picture(name):
    image = sources.load_quiz_picture(name)
    C, H, W = image.pixels.shape
    assert C in (1, 3) and H >= 64 and W >= 64 and image.pixels.dtype == torch.float32
    assert 0.0 <= float(image.pixels.min()) and float(image.pixels.max()) <= 1.0
    grey = image.pixels.double().mean(0).numpy()
    assert float(grey.std()) > 0.02  # not blank
    S = np.linalg.svd(grey, compute_uv=False)
    assert int((S > 1e-3 * S[0]).sum()) > 10  # more than a few ranks to reveal


def test_at_least_twenty_pictures_within_five_megabytes():
    assert len(sources.QUIZ_NAMES) >= 20
    assert sum(path.stat().st_size for path in sources.QUIZ_FILES.values()) <= 5_000_000


def test_every_file_is_named_in_a_licence_note_that_says_public_domain_or_cc0():
    shipped = {p.name for p in sources.QUIZ_DIR.iterdir() if p.suffix in (".png", ".jpg")}
    assert shipped == {path.name for path in sources.QUIZ_FILES.values() if path.parent == sources.QUIZ_DIR}
    licence = (sources.QUIZ_DIR / "LICENSE.md").read_text(encoding="utf-8")
    rows = [line for line in licence.splitlines() if line.startswith("| `")]
    for file_name in shipped:
        row = next(line for line in rows if line.startswith(f"| `{file_name}`"))
        assert any(words in row for words in ("public domain", "CC0", "No known copyright restrictions"))
    samples = (sources.SAMPLES_DIR / "LICENSE.md").read_text(encoding="utf-8")
    for path in sources.QUIZ_FILES.values():
        if path.parent == sources.SAMPLES_DIR:
            assert f"`{path.name}`" in samples


def test_an_unknown_name_is_refused():
    with pytest.raises(InputError, match="no-such"):
        sources.load_quiz_picture("no-such")
