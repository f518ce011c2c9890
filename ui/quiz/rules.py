"""The quiz's rules: the ranks a round shows, which photograph a round hides, and the quiz's address."""

from __future__ import annotations

import random
from collections.abc import Sequence

from ui.limits import MAX_QUIZ_ROUND
from ui.links import UrlField

__all__ = ["QUIZ_RANK_SCHEDULE", "quiz_schedule", "quiz_photo", "quiz_fields"]

QUIZ_RANK_SCHEDULE = (1, 2, 3, 5, 8, 12, 20, 30, 50, 80, 120, 200, 300)


def quiz_schedule(max_rank: int, schedule: Sequence[int] = QUIZ_RANK_SCHEDULE) -> list[int]:
    """The ranks a quiz round shows, rising: the schedule's ranks below ``max_rank``, then ``max_rank``."""
    if max_rank < 1:
        raise ValueError(f"max_rank must be >= 1; got {max_rank}")
    return [r for r in schedule if r < max_rank] + [int(max_rank)]


def quiz_photo(round_number: int, names: Sequence[str]) -> str:
    """The hidden photograph of a round: every name once per ``len(names)`` rounds, in a seeded order."""
    if not names:
        raise ValueError("the quiz needs at least one photograph")
    cycle, position = divmod(int(round_number), len(names))
    order = list(names)
    random.Random(cycle).shuffle(order)
    return order[position]


def quiz_fields(steps: int) -> list[UrlField]:
    """The quiz's address: the round (which photograph) and the step of the rank schedule."""
    return [UrlField("round", "int", 0, 0, MAX_QUIZ_ROUND, label="round"),
            UrlField("step", "int", 0, 0, max(steps - 1, 0), label="step")]
