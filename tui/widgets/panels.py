"""Small display widgets: alert banner, detail panel, status bar, help screen.

Each is a thin shell around a pure function that builds its text, so the text is testable
without an app.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

from logwatch.core.alerts import AlertEvent
from logwatch.core.types import ScoredLine, SessionEnd

from ..messages import Status
from ..render import Palette, safe_text, short_session, token_text, top_tokens

#: What each kind of alert event is called on the banner.
EVENT_TITLES = {"open": " ▲ ALERT ", "back": " ▲ BACK AGAIN ", "rate": " ▲ RATE UP "}


def banner_text(line: ScoredLine, event: AlertEvent, groups: int, ended: SessionEnd | None = None) -> Text:
    """What is new (a group opened, came back, or alerts faster), when, where, why, and the line."""
    group = event.group
    text = Text()
    text.append(EVENT_TITLES.get(event.kind, " ▲ ALERT ") if ended is None else " ▲ SESSION ENDED ", "bold reverse")
    text.append(f" #{group.key}  {safe_text(line.ts or f'line {line.n}', 40)}  "
                f"session {safe_text(short_session(line.session), 40)}  ", "bold")
    if event.kind == "rate":
        text.append(f"{len(group.recent)} alerts in the last minute · ")
    if group.count > 1:
        text.append(f"{_count(group.count, 'line')} in {_count(group.session_count, 'session')} · ")
    why = event.why or line.why
    if ended is not None:
        text.append(f"its {ended.lines} lines are unlike any normal session · ")
    if why:
        text.append("why: " + safe_text(", ".join(why), 120) + "  ")
    text.append(safe_text(line.text[-160:], 160), "italic")
    if groups > 1:
        text.append(f"   ({groups} alert groups · a/A jump between groups)", "dim")
    return text


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def status_text(status: Status, *, alerts: int, follow: bool, new_lines: int, view: str) -> Text:
    parts = [f"model {safe_text(status.model, 60)}", safe_text(status.device, 20), safe_text(status.state, 40)]
    if status.learning:
        parts.append(safe_text(status.learning, 120))
    if status.speed is not None:
        parts.append(f"speed ×{status.speed:g}")
    parts += [_count(status.lines, "line"), f"{status.lines_per_s:,.0f} lines/s", f"queue {status.queued:,}",
              _count(status.sessions, "session"), f"{alerts} alerted", f"view {safe_text(view, 40)}"]
    parts.append("following" if follow else f"paused +{new_lines:,} new (end to resume)")
    text = Text(" · ".join(parts))
    if status.note:
        text.append("  " + safe_text(status.note, 200), "bold")
    return text


def detail_renderable(line: ScoredLine, threshold: float | None, palette: Palette, *, marked: bool = False) -> Group:
    """The selected line in full, with the tokens that surprised the model.

    ``marked``: its pattern is marked normal, which is why a line over the threshold may not alert.
    """
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    # Every cell a Text: a str cell would be read as console markup, and these fields come from the log.
    rows = [("line", f"{line.n:,}  {safe_text(line.ts or '', 40)}  {safe_text(line.level or '', 12)}"),
            ("session", safe_text(line.session, 80))]
    loss = "not scored" if line.loss is None else f"{line.loss:.3f}"
    rule = "" if threshold is None else f"  (threshold {threshold:.3f}{'; ALERT' if line.alert else ''})"
    rows.append(("loss", loss + rule))
    if line.why:
        rows.append(("why", safe_text(", ".join(line.why), 200)))
    if marked:
        rows.append(("marked", "normal: lines like this never alert (m to unmark)"))
    elif line.order_only:
        rows.append(("held", "a known line, surprising only by its place: the session check judges the session "
                             "when it ends"))
    if line.tokens:
        rows.append(("surprising", safe_text(", ".join(f"{p!r} {x:.1f}" for p, x in top_tokens(line.tokens)), 400)))
    for name, value in rows:
        head.add_row(Text(name), Text(value))
    parts: list[Table | Text] = [head, Text(safe_text(line.text, 8_000))]
    if line.tokens:
        parts += [Text("as the model read it (colour = token loss):", "dim"), token_text(line.tokens, threshold, palette)]
    return Group(*parts)


KEYS: tuple[tuple[str, str], ...] = (
    ("tab / shift+tab", "move between the session list, the log and the alert list"),
    ("up/down, pgup/pgdn, j/k", "move the cursor in the log (pauses follow)"),
    ("home / end", "top / resume following the newest line"),
    ("enter", "details of the selected line: loss, session, surprising tokens"),
    ("a / A", "jump to the next / previous alert of another group"),
    ("/", "search (text, or /regex/), highlighted in the log"),
    ("n / N", "next / previous search match"),
    ("f", "filter: text  !text  /regex/  level:WARNING+  loss>2.5  source:api  !source:api (AND)"),
    ("m / M", "mark the line's pattern normal, never to alert again (m again: unmark) / M: all its session's alerts"),
    ("z", "snooze the line's pattern: no alert from it for an hour (z again: end the snooze)"),
    ("L", "learn the log again now, in the background, from recent lines of sessions that did not alert"),
    ("s", "show all lines / back to the selected session"),
    ("escape", "close the detail panel, the banner or the input"),
    ("space  .  +  -", "replay: pause/resume, step one line, faster, slower"),
    ("ctrl+p", "command palette (themes: logwatch-dark, logwatch-light, logwatch-contrast)"),
    ("?", "this help"),
    ("q / ctrl+c", "quit (the recording is flushed)"),
)


class HelpScreen(ModalScreen[None]):
    """The keys, in one table."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Static { width: 90; height: auto; border: round $primary; background: $panel; padding: 1 2; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for key, what in KEYS:
            table.add_row(Text(key), Text(what))
        yield Static(Group(Text("logwatch keys", "bold underline"), Text(""), table))

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(result)


class Banner(Static):
    """The alert banner over the screen: shown when a session alerts, hidden by escape."""

    def show(self, text: Text | Group) -> None:
        self.update(text)
        self.add_class("-shown")

    def hide(self) -> bool:
        """Hide it; False if it was not shown."""
        shown = self.has_class("-shown")
        self.remove_class("-shown")
        return shown


class DetailPanel(Banner):
    """The selected line in full, under the log (shown and hidden like the banner)."""


class StatusBar(Static):
    """One line at the bottom: model, state, rates, counts, and follow or pause."""

    def show(self, status: Status, *, alerts: int, follow: bool, new_lines: int, view: str) -> None:
        self.update(status_text(status, alerts=alerts, follow=follow, new_lines=new_lines, view=view))
