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

from logwatch.core.alerts import AlertGroup

from ..render import safe_text, short_session
from ..state import ALL, SessionView


def session_row(view: SessionView) -> Text:
    """``▲ key  lines  max-loss`` for one session."""
    return Text(f"{'▲' if view.alerted else ' '} {safe_text(short_session(view.key), 24):<13} {view.count:>5} "
                f"{view.max_loss:5.1f}")


#: Characters of a sidebar row (the sidebar is 34 cells wide, less its border and padding).
ROW_WIDTH = 30


def pattern_summary(pattern: str) -> str:
    """The part of a pattern worth reading in a narrow row: its message, without level, logger and
    the bracketed request and instance context."""
    rest = pattern
    while True:
        cut = rest.find("] ")
        if cut < 0 or cut > 80:
            break
        rest = rest[cut + 2 :]
    if rest is pattern:  # no context brackets: drop "LEVEL component"
        parts = pattern.split(" ", 2)
        rest = parts[2] if len(parts) == 3 and parts[0].isupper() else pattern
    return rest


def _fit(text: str, width: int = ROW_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def alert_row(group: AlertGroup) -> Text:
    """Two lines per alert group: ``#key count× N sess last-time``, then what it is."""
    head = f"#{group.key} {group.count}× {group.session_count} sess {safe_text((group.last_ts or '')[-12:-4], 8)}"
    return Text(_fit(head) + "\n  " + _fit(safe_text(pattern_summary(group.pattern), 200), ROW_WIDTH - 2))


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
    """Alert groups, the most recently alerted first; each option's id is the group's number."""

    def show(self, groups: Sequence[AlertGroup]) -> None:
        highlighted = self.highlighted_option.id if self.highlighted_option else None
        self.set_options([Option(alert_row(g), id=str(g.key)) for g in groups])
        if highlighted is not None:
            with contextlib.suppress(OptionDoesNotExist):
                self.highlighted = self.get_option_index(highlighted)
