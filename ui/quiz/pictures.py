"""What the room may call each quiz picture, the four answers a round offers, and checking a typed answer.

Pure (no Streamlit). Every name of ``lowrank_core.sources.QUIZ_NAMES`` has an answer here (a test keeps
them in step) and a few other words that count as right ("cat", "kitten"); a typed answer is compared
after lower-casing, dropping punctuation and a leading "a", "an" or "the".
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Sequence

from ui.limits import QUIZ_CHOICES

__all__ = ["ANSWERS", "answer_of", "name_of", "choices_for", "normalise", "is_right", "matching_option"]

ANSWERS: dict[str, tuple[str, tuple[str, ...]]] = {  # picture -> (the answer shown, other words that count)
    "astronaut": ("An astronaut", ("spacewoman", "space woman", "cosmonaut", "eileen collins")),
    "camera": ("A photographer with a camera", ("photographer", "camera", "cameraman", "man with a camera")),
    "chelsea": ("A cat", ("cat", "kitten", "kitty", "tabby")),
    "coffee": ("A cup of coffee", ("coffee", "cup", "espresso", "coffee cup")),
    "rocket": ("A rocket launch", ("rocket", "launch", "falcon 9", "launch pad")),
    "brick": ("A brick wall", ("brick", "bricks", "wall")),
    "grass": ("Grass", ("lawn", "meadow", "blades of grass")),
    "gravel": ("Gravel", ("stones", "pebbles", "rocks", "gravel path")),
    "text": ("Handwritten maths", ("writing", "handwriting", "equations", "maths", "math", "text")),
    "cell": ("A cell under a microscope", ("cell", "microscope", "bacterium", "blood cell")),
    "coins": ("Coins", ("coin", "money", "old coins")),
    "microaneurysms": ("Blood vessels of an eye", ("blood vessels", "vessels", "veins", "retina", "eye")),
    "horse": ("A horse", ("horse silhouette", "pony")),
    "clock": ("A clock", ("wall clock", "watch", "blurred clock")),
    "ihc": ("Tissue under a microscope", ("tissue", "cells", "histology", "glands", "biopsy")),
    "hubble": ("Galaxies in deep space", ("galaxies", "galaxy", "stars", "space", "universe", "deep field")),
    "retina": ("The back of an eye", ("retina", "eye", "eyeball", "fundus")),
    "shuttle": ("A model of the space shuttle", ("shuttle", "space shuttle", "model shuttle")),
    "helmet": ("A space helmet", ("helmet", "visor")),
    "flag": ("A flag", ("us flag", "american flag", "stars and stripes")),
    "spoon": ("A teaspoon", ("spoon", "tea spoon")),
}

_BY_ANSWER = {answer: name for name, (answer, _) in ANSWERS.items()}


def answer_of(name: str) -> str:
    """The answer shown for picture ``name`` ("A cat")."""
    return ANSWERS[name][0]


def name_of(answer: str) -> str:
    """The picture whose answer is ``answer`` ("A cat" -> "chelsea")."""
    return _BY_ANSWER[answer]


def normalise(text: str) -> str:
    """Lower case, accents and punctuation dropped, spaces collapsed, no leading article."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower()
    text = " ".join(re.sub(r"[^a-z0-9 ]+", " ", text).split())
    return re.sub(r"^(a|an|the) ", "", text)


def is_right(name: str, typed: str) -> bool:
    """True when ``typed`` names picture ``name`` (its answer or one of its other words)."""
    answer, others = ANSWERS[name]
    return normalise(typed) in {normalise(answer), *(normalise(word) for word in others)}


def choices_for(round_number: int, name: str, names: Sequence[str], *,
                count: int = QUIZ_CHOICES) -> list[str]:
    """The answers a round offers: picture ``name``'s and ``count - 1`` others, shuffled (seeded by the
    round, so a link and every phone in the room see the same four in the same order)."""
    others = sorted(set(answer_of(n) for n in names if n != name) - {answer_of(name)})
    generator = random.Random(f"quiz-choices-{int(round_number)}")
    offered = [answer_of(name), *generator.sample(others, min(count - 1, len(others)))]
    generator.shuffle(offered)
    return offered


def matching_option(typed: str, options: Sequence[str]) -> str | None:
    """The offered answer that ``typed`` means, or None: a typed vote then counts with that option."""
    return next((option for option in options
                 if option in _BY_ANSWER and is_right(_BY_ANSWER[option], typed)), None)
