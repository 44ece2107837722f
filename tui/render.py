"""Pure rendering helpers: untrusted text made safe, losses made colours (the filter bar's
language is :mod:`.filters`).

Nothing here touches the app, so each function is unit-tested on its own. Log lines are
untrusted: they become ``rich.text.Text`` objects built from plain strings (never parsed as
markup) after every control character has been replaced by a visible escape, so a line
holding ``\\x1b]0;pwned\\x07`` or ``\\x1b[2J`` is shown as text and never reaches the terminal.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text

from logwatch.core.alerts import ERROR_LEVELS, WARNING_LEVELS
from logwatch.core.escape import printable
from logwatch.core.timeline import source_tag
from logwatch.core.types import ScoredLine

if TYPE_CHECKING:
    from textual.theme import Theme

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


@functools.cache
def _default_palette() -> Palette:
    # Imported here, not at the top: textual.theme costs the CLI's tables (which only need
    # safe_text from this module) a tenth of a second.
    from logwatch.themes import DEFAULT_THEME, THEMES

    return Palette.of(THEMES[DEFAULT_THEME])


@dataclass(frozen=True)
class Palette:
    """Resolved colours for rendering, taken from a theme's variables (:meth:`of`). A colour left
    out is the default theme's: the themes are the one place colours are written down."""

    ramp: tuple[str, ...] = field(default_factory=lambda: _default_palette().ramp)
    muted: str = field(default_factory=lambda: _default_palette().muted)
    alert: str = field(default_factory=lambda: _default_palette().alert)
    match: str = field(default_factory=lambda: _default_palette().match)
    sources: tuple[str, ...] = field(default_factory=lambda: _default_palette().sources)
    """One colour per log in a merged view, in the order the logs were first seen (cycled)."""

    @classmethod
    def of(cls, theme: Theme) -> Palette:
        """The colours of one of logwatch's themes (:mod:`logwatch.themes`): its loss ramp, muted
        and source variables; the alarm colour is the ramp's top, search matches its warning."""
        ramp = tuple(theme.variables[f"loss-{i}"] for i in range(RAMP_STEPS))
        names = sorted((key for key in theme.variables if key.startswith("source-")), key=lambda key: int(key[7:]))
        sources = tuple(theme.variables[key] for key in names)
        return cls(ramp=ramp, muted=theme.variables["loss-muted"], alert=ramp[-1], match=theme.warning or ramp[2],
                   sources=sources)


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
        level_style = Style(color=palette.alert, bold=True) if line.level in ERROR_LEVELS else \
            Style(color=palette.ramp[2]) if line.level in WARNING_LEVELS else Style(color=palette.muted)
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
