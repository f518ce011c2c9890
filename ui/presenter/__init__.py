"""The presenter view, one room per job: ``view`` (the toggle, the address, the CSS, larger charts),
``navigation`` (previous/next page and a page menu inside the view), ``keys`` (what the keyboard moves),
``notes`` (speaker notes). The names every page uses are importable from here."""

from ui.presenter.view import (
    PRESENT_KEY,
    PRESENTER_CSS,
    is_presenting,
    presenter_css,
    presenter_figure,
    presenter_pictures,
    presenter_toggle,
    sync_present_param,
)

__all__ = [
    "PRESENT_KEY",
    "PRESENTER_CSS",
    "is_presenting",
    "presenter_css",
    "presenter_figure",
    "presenter_pictures",
    "presenter_toggle",
    "sync_present_param",
]
