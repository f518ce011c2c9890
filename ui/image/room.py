"""The image page in a workshop room: ↑/↓ move its rank, a phone that opened the presenter's QR link votes
on it ("at which rank does it look good enough?"), and the presenter's screen shows the votes against the
energy kept."""

from __future__ import annotations

from collections.abc import Mapping

from lowrank_core.image import ImageCodec
from ui.poll.figures import rank_votes_figure
from ui.poll.views import PollSpec, current_poll, room_section, voter_form
from ui.presenter import is_presenting, presenter_figure
from ui.presenter.keys import rank_keys

__all__ = ["QUESTION", "image_voter", "image_room"]

QUESTION = "At which rank does it look good enough?"


def image_voter(codec: ImageCodec, ranks: tuple[int, ...], rule: str) -> None:
    """Beside the rank control: ↑/↓ move it (while no rule sets it); a voter's form when a rank poll is on."""
    if rule == "slider" and codec.max_rank > 1:
        rank_keys("image_rank", 1, codec.max_rank)
    poll = current_poll()
    if poll is not None and poll.kind == "rank" and not is_presenting():
        voter_form("image", poll, rank=min(int(ranks[0]), poll.high))


def image_room(codec: ImageCodec, *, subject: str, link_params: Mapping[str, str]) -> None:
    """The end of the presenter view: the room's QR code, and the poll with its live histogram."""
    energy = codec.factorization.energy().mean(0).cpu().numpy()  # (k + 1,): the channels' mean share
    spec = PollSpec("rank", QUESTION, subject, low=1, high=codec.max_rank)
    room_section("image", "image", link_params, spec=spec,
                 figure=lambda tally: presenter_figure(rank_votes_figure(tally.counts, high=tally.poll.high,
                                                                         energy=energy), height=460))
