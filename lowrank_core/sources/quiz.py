"""The quiz's pictures: the five sample photographs and sixteen more, all public domain or CC0.

The extra files live in ``lowrank_core/data/quiz`` (sources, licences and changes in the LICENSE.md there);
``QUIZ_FILES`` maps each picture's name to its file and ``load_quiz_picture`` loads one as ``load_image``
loads an upload. What a room may call each picture is the app's business (``ui.quiz``), not the core's.
"""

from __future__ import annotations

from pathlib import Path

from .._checks import quote
from ..errors import InputError
from ..limits import DEFAULT_MAX_PIXELS
from .image_file import LoadedImage, load_image
from .samples import PHOTO_FILES, SAMPLES_DIR, read_data_file, sample_bytes

__all__ = ["QUIZ_DIR", "QUIZ_FILES", "QUIZ_NAMES", "quiz_bytes", "load_quiz_picture"]

QUIZ_DIR = Path(__file__).parents[1] / "data" / "quiz"
_EXTRA = {
    "brick": "brick.png", "grass": "grass.png", "gravel": "gravel.png", "text": "text.png",
    "cell": "cell.png", "coins": "coins.png", "microaneurysms": "microaneurysms.png", "horse": "horse.png",
    "clock": "clock_motion.png", "ihc": "ihc.jpg", "hubble": "hubble_deep_field.jpg", "retina": "retina.jpg",
    "shuttle": "shuttle.jpg", "helmet": "helmet.jpg", "flag": "flag.jpg", "spoon": "spoon.jpg",
}
QUIZ_FILES: dict[str, Path] = {**{name: SAMPLES_DIR / file for name, file in PHOTO_FILES.items()},
                               **{name: QUIZ_DIR / file for name, file in _EXTRA.items()}}
"""Picture name -> its file (the sample photographs in ``SAMPLES_DIR``, the others in ``QUIZ_DIR``)."""
QUIZ_NAMES: tuple[str, ...] = tuple(QUIZ_FILES)


def quiz_bytes(name: str) -> bytes:
    """The file of a quiz picture, exactly as shipped (PNG or JPEG); InputError for an unknown name,
    DataFileError for a file the installation lacks."""
    if name not in QUIZ_FILES:
        raise InputError(f"Unknown quiz picture {quote(name)}; choose one of {', '.join(QUIZ_NAMES)}.")
    if name in PHOTO_FILES:
        return sample_bytes(name)
    return read_data_file(QUIZ_DIR / _EXTRA[name], "The quiz picture")


def load_quiz_picture(name: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Load a quiz picture by name, as ``load_image`` loads an upload (grey or RGB, float32 in [0, 1])."""
    return load_image(quiz_bytes(name), max_pixels=max_pixels, name=QUIZ_FILES[name].name)
