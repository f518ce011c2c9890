"""What a room poll is, whatever stores it: the poll and its tally (small frozen dataclasses), the errors a
store raises (each a ``ValueError`` whose message is meant for the person who tried), the ``PollStore``
interface, and how a typed answer is cleaned. No database here: ``ui.poll.storage`` implements the interface
on SQLite."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ui.limits import MAX_ANSWER_CHARS

__all__ = [
    "POLL_KINDS",
    "PollError",
    "PollNotFoundError",
    "PollClosedError",
    "RoomCodeError",
    "RateLimitError",
    "VoteRejectedError",
    "PollLimitError",
    "Poll",
    "Tally",
    "PollStore",
    "clean_answer",
]

POLL_KINDS = ("rank", "choice")


class PollError(ValueError):
    """A poll operation that cannot be done; the message says why, for the person who tried."""


class PollNotFoundError(PollError):
    """No poll has this id (never opened, mistyped, or purged)."""


class PollClosedError(PollError):
    """The poll no longer takes votes: closed by its presenter, or its time ran out."""


class RoomCodeError(PollError):
    """The room code is missing or wrong."""


class RateLimitError(PollError):
    """This session tried too recently."""


class VoteRejectedError(PollError):
    """The answer is not one the poll takes (out of range, empty, too long), or the poll is full."""


class PollLimitError(PollError):
    """Too many polls are open on this server."""


@dataclass(frozen=True)
class Poll:
    """One poll.

    Attributes
    ----------
    poll_id : str
        12 hexadecimal digits.
    room_code : str
        ``ROOM_CODE_DIGITS`` digits: what a voter's link carries.
    kind : {"rank", "choice"}
        "rank": a whole number in [low, high]; "choice": text, usually one of ``options``.
    question, subject : str
        What is asked ("At which rank does it look good enough?") and about what ("chelsea, RGB").
    options : tuple of str
        A choice poll's offered answers (empty for a rank poll).
    low, high : int
        A rank poll's range (0, 0 for a choice poll).
    answer : str
        The right answer when there is one (the quiz), else "". For the presenter, never sent to voters.
    created_at, expires_at : float
        Seconds since the epoch.
    closed_at : float or None
        When its presenter closed it.
    """

    poll_id: str
    room_code: str
    kind: str
    question: str
    subject: str
    options: tuple[str, ...]
    low: int
    high: int
    answer: str
    created_at: float
    expires_at: float
    closed_at: float | None

    def is_open(self, now: float) -> bool:
        """True while the poll takes votes."""
        return self.closed_at is None and now < self.expires_at


@dataclass(frozen=True)
class Tally:
    """A poll's votes: one answer per voting session.

    Attributes
    ----------
    poll : Poll
    counts : dict answer -> int
        Sessions per answer: a rank poll's ranks ascending; a choice poll's options first (in their order,
        zeros included), then other typed answers, most frequent first.
    voters : int
        Sessions that voted (the sum of ``counts``).
    """

    poll: Poll
    counts: dict[str, int]
    voters: int


class PollStore(Protocol):
    """What the app needs from a poll database (``SqlitePollStore`` is the one it ships)."""

    def open_poll(self, *, kind: str, question: str, subject: str, owner: str, options: Sequence[str] = (),
                  low: int = 0, high: int = 0, answer: str = "") -> Poll: ...

    def get_poll(self, poll_id: str) -> Poll: ...

    def vote(self, poll_id: str, *, room_code: str | None, session: str, answer: str | int) -> str: ...

    def tally(self, poll_id: str) -> Tally: ...

    def close_poll(self, poll_id: str, *, owner: str) -> Poll: ...

    def purge_expired(self) -> int: ...


def clean_answer(text: str, *, max_chars: int = MAX_ANSWER_CHARS) -> str:
    """A typed answer as stored: NFC, runs of spaces made one, stripped; VoteRejectedError when unusable."""
    value = unicodedata.normalize("NFC", str(text))
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in value if ch not in " \t\n"):
        raise VoteRejectedError("The answer holds control characters; type plain text.")
    value = " ".join(value.split())
    if not value:
        raise VoteRejectedError("The answer is empty.")
    if len(value) > max_chars:
        raise VoteRejectedError(f"The answer is {len(value)} characters long; at most {max_chars} are taken.")
    return value
