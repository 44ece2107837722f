"""Pure rendering helpers: untrusted text made safe, losses made colours, filters as predicates.

Nothing here touches the app, so each function is unit-tested on its own. Log lines are
untrusted: they become ``rich.text.Text`` objects built from plain strings (never parsed as
markup) after every control character has been replaced by a visible escape, so a line
holding ``\\x1b]0;pwned\\x07`` or ``\\x1b[2J`` is shown as text and never reaches the terminal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text

from logwatch.core.escape import printable
from logwatch.core.timeline import source_tag
from logwatch.core.types import ScoredLine

#: Number of colour steps of the loss ramp (theme variables ``loss-0`` … ``loss-4``).
RAMP_STEPS = 5
#: Width of the source column of a merged view (``nova-compute`` fits).
SOURCE_TAG_CHARS = 12


def safe_text(raw: str, limit: int = 4_000) -> str:
    """Printable form of an untrusted line: controls escaped, cut at ``limit`` characters
    (:func:`logwatch.core.escape.printable`, the one escaping function)."""
    return printable(raw, limit)


def loss_step(loss: float | None, threshold: float | None) -> int:
    """Which ramp colour a loss gets: 0 (routine) … RAMP_STEPS-1 (over the threshold).

    Relative to the alert threshold so every model reads the same: below a quarter of it is
    routine, anything above it is the alarm colour.
    """
    if loss is None or not loss > 0:  # NaN, zero and below (a hostile recording) are routine colour
        return 0
    t = threshold if threshold and threshold > 0 and math.isfinite(threshold) else 5.0
    if loss > t:
        return RAMP_STEPS - 1
    return min(RAMP_STEPS - 2, int(loss / t * (RAMP_STEPS - 1)))


@dataclass(frozen=True)
class Palette:
    """Resolved colours for rendering, taken from the theme's variables."""

    ramp: tuple[str, ...] = ("#7f8c8d", "#a3be8c", "#ebcb8b", "#d08770", "#bf616a")
    muted: str = "#7f8c8d"
    alert: str = "#bf616a"
    match: str = "#ebcb8b"
    sources: tuple[str, ...] = ("#58a6ff", "#bc8cff", "#79c0ff", "#d2a8ff")
    """One colour per log in a merged view, in the order the logs were first seen (cycled)."""


def line_text(line: ScoredLine, threshold: float | None, palette: Palette, *, show_session: bool = False,
              search: re.Pattern[str] | None = None, source: int | None = None) -> Text:
    """One row of a log view: marker, loss, time, level, (source tag,) (session,) text coloured by loss.

    ``source`` is the line's log among those of a merged view (its colour); None when the view
    shows one log, which then needs no tag."""
    step = loss_step(line.loss, threshold)
    colour = palette.ramp[step]
    loss = "  -  " if line.loss is None else f"{min(line.loss, 99.99):5.2f}"
    marker = "▲" if line.alert else ("•" if step == RAMP_STEPS - 1 else " ")
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(marker, Style(color=palette.alert, bold=True))
    text.append(f" {loss} ", Style(color=colour, bold=step >= RAMP_STEPS - 2))
    if line.ts:
        text.append(safe_text(line.ts[-12:], 40) + " ", Style(color=palette.muted))
    if line.level:
        level_style = Style(color=palette.alert, bold=True) if line.level in ("ERROR", "CRITICAL", "FATAL") else \
            Style(color=palette.ramp[2]) if line.level in ("WARNING", "WARN") else Style(color=palette.muted)
        text.append(f"{safe_text(line.level[:5], 5):<5} ", level_style)
    if source is not None:
        tag_colour = palette.sources[source % len(palette.sources)] if palette.sources else palette.muted
        tag = safe_text(source_tag(line.source), 40)[:SOURCE_TAG_CHARS]
        text.append(f"{tag:<{SOURCE_TAG_CHARS}} ", Style(color=tag_colour))
    if show_session:
        text.append(safe_text(short_session(line.session), 40) + " ", Style(color=palette.muted, italic=True))
    start = len(text)
    text.append(safe_text(message_part(line)), Style(color=colour if step else None))
    if search is not None:
        text.highlight_regex(search, Style(bgcolor=palette.match, color="black"))
        # highlight_regex also scans the prefix; keep it to the message only.
        text.spans = [s for s in text.spans if s.start >= start or s.style != Style(bgcolor=palette.match, color="black")]
    return text


def message_part(line: ScoredLine) -> str:
    """The part of the raw line worth reading in a narrow row: from the level onwards."""
    if line.level:
        index = line.text.find(f" {line.level} ")
        if 0 <= index < 120:
            return line.text[index + len(line.level) + 2 :]
    return line.text


def short_session(session: str) -> str:
    """Sessions are long UUIDs; eight characters are enough to tell them apart on screen. A
    source's unkeyed lines are named after its file name, never its whole path."""
    if session.startswith("<unkeyed:") and session.endswith(">"):
        return "~" + (session[9:-1].replace("\\", "/").rsplit("/", 1)[-1] or "-")[:12]
    if session.startswith("req-"):
        return session[:12]
    if len(session) == 36 and session.count("-") == 4:
        return session[:8]
    return session[:24]


def token_text(tokens: Sequence[tuple[str, float]], threshold: float | None, palette: Palette) -> Text:
    """The masked line as the model read it, each token coloured by its own loss."""
    text = Text()
    for piece, loss in tokens:
        step = loss_step(loss, threshold)
        style = Style(color=palette.ramp[step], bold=step >= RAMP_STEPS - 2, underline=step == RAMP_STEPS - 1)
        text.append(safe_text(piece.replace("Ġ", " "), 200), style)
    return text


def top_tokens(tokens: Sequence[tuple[str, float]], n: int = 5) -> list[tuple[str, float]]:
    """The n most surprising tokens, highest loss first (ties keep line order)."""
    ranked = sorted(enumerate(tokens), key=lambda item: (-item[1][1], item[0]))
    return [(safe_text(piece, 60), loss) for _, (piece, loss) in ranked[:n]]


# -- filters -------------------------------------------------------------------------------
class FilterError(ValueError):
    """A filter expression that cannot be used; the message is shown to the user."""


@dataclass(frozen=True)
class LineFilter:
    """What the view shows. Parsed from a small language typed in the filter bar:

    ``text`` keep lines containing text · ``!text`` drop them · ``/regex/`` keep matches ·
    ``level:ERROR`` (or ``level:WARNING+``) · ``loss>2.5`` · ``source:api`` keep the lines of
    the logs whose name holds ``api`` (several: any of them) · ``!source:api`` drop them ·
    terms combine with AND.
    """

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    levels: frozenset[str] | None = None
    min_loss: float | None = None
    source: str = ""
    """The expression as typed."""
    logs_in: tuple[str, ...] = ()
    logs_out: tuple[str, ...] = ()

    def __call__(self, line: ScoredLine) -> bool:
        text = line.text
        if self.min_loss is not None and (line.loss is None or line.loss <= self.min_loss):
            return False
        if self.logs_in or self.logs_out:
            tag = source_tag(line.source).lower()
            if self.logs_in and not any(name in tag for name in self.logs_in):
                return False
            if any(name in tag for name in self.logs_out):
                return False
        if self.levels is not None and (line.level or "") not in self.levels:
            return False
        lowered = text.lower()
        if any(term not in lowered for term in self.include):
            return False
        if any(term in lowered for term in self.exclude):
            return False
        return all(p.search(text) for p in self.patterns)

    @property
    def active(self) -> bool:
        return bool(self.source.strip())


_SEVERITY = ("DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL")


def parse_filter(expression: str) -> LineFilter:
    """Compile a filter expression once; raises FilterError with a readable reason."""
    include: list[str] = []
    exclude: list[str] = []
    patterns: list[re.Pattern[str]] = []
    levels: set[str] | None = None
    min_loss: float | None = None
    logs_in: list[str] = []
    logs_out: list[str] = []
    for term in _terms(expression):
        lowered = term.lower()
        if lowered.startswith(("source:", "!source:")):
            name = lowered.split(":", 1)[1]
            if not name:
                raise FilterError("source:NAME needs part of a log's file name, e.g. source:compute")
            (logs_out if lowered.startswith("!") else logs_in).append(name)
            continue
        if len(term) > 2 and term.startswith("/") and term.endswith("/"):
            try:
                patterns.append(re.compile(term[1:-1], re.IGNORECASE))
            except re.error as exc:
                raise FilterError(f"bad regex {term}: {exc}") from None
        elif term.lower().startswith("level:"):
            wanted = term[6:].upper()
            plus = wanted.endswith("+")
            wanted = wanted.rstrip("+").replace("WARN", "WARNING").replace("WARNINGING", "WARNING")
            if wanted not in _SEVERITY:
                raise FilterError(f"unknown level {term[6:]!r}; use one of {', '.join(_SEVERITY)}")
            chosen = set(_SEVERITY[_SEVERITY.index(wanted):]) if plus else {wanted}
            if "WARNING" in chosen:
                chosen.add("WARN")
            if "CRITICAL" in chosen:
                chosen.add("FATAL")
            levels = chosen if levels is None else levels & chosen
        elif term.lower().startswith("loss>"):
            try:
                min_loss = float(term[5:])
            except ValueError:
                raise FilterError(f"loss>N needs a number, not {term[5:]!r}") from None
        elif term.startswith("!") and len(term) > 1:
            exclude.append(term[1:].lower())
        else:
            include.append(term.lower())
    return LineFilter(tuple(include), tuple(exclude), tuple(patterns),
                      frozenset(levels) if levels is not None else None, min_loss, expression,
                      tuple(logs_in), tuple(logs_out))


def _terms(expression: str) -> list[str]:
    """Split on spaces, keeping /regex with spaces/ and "quoted text" whole."""
    return [a or b or c for a, b, c in re.findall(r'(/[^/]+/)|"([^"]+)"|(\S+)', expression)]


def search_pattern(query: str) -> re.Pattern[str] | None:
    """Search is plain, case-insensitive text unless written as /regex/."""
    if not query:
        return None
    if len(query) > 2 and query.startswith("/") and query.endswith("/"):
        try:
            return re.compile(query[1:-1], re.IGNORECASE)
        except re.error as exc:
            raise FilterError(f"bad regex {query}: {exc}") from None
    return re.compile(re.escape(query), re.IGNORECASE)
