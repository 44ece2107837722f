"""The sidebar's two lists: sessions (alerted first) and alerts (newest first).

Each row is built by a plain function from the state it shows, as ``rich.text.Text`` (never
markup: session keys and timestamps come from log lines), so rows are tested without an app.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option, OptionDoesNotExist

from logwatch.core.types import ScoredLine

from ..render import safe_text, short_session
from ..state import ALL, SessionView


def session_row(view: SessionView) -> Text:
    """``▲ key  lines  max-loss`` for one session."""
    return Text(f"{'▲' if view.alerted else ' '} {safe_text(short_session(view.key), 24):<13} {view.count:>5} "
                f"{view.max_loss:5.1f}")


def alert_row(line: ScoredLine) -> Text:
    """``time session loss`` for one alert."""
    return Text(f"{safe_text((line.ts or '')[-12:], 12)} {safe_text(short_session(line.session), 13)} "
                f"{line.loss or 0:4.1f}")


class SessionList(OptionList):
    """Sessions to switch the log view to; the first row is "all lines"."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Option("all lines", id=ALL), id=id)

    def show(self, rows: Sequence[SessionView]) -> None:
        """Replace the rows, keeping the highlighted session highlighted if it is still listed."""
        highlighted = self.highlighted_option.id if self.highlighted_option else None
        self.set_options([Option("all lines", id=ALL), *(Option(session_row(v), id=v.key) for v in rows)])
        if highlighted is not None:
            with contextlib.suppress(OptionDoesNotExist):  # the session was evicted
                self.highlighted = self.get_option_index(highlighted)


class AlertList(OptionList):
    """Alerts to jump to; each option's id is the alerting line's number."""

    def show(self, alerts: Sequence[ScoredLine]) -> None:
        self.set_options([Option(alert_row(a), id=str(a.n)) for a in alerts])
