"""The filter bar's and the search box's language: what the operator types after ``f`` or ``/``.

Headless (no textual, no rich: a test imports it alone), so the language is tested without an
app. A filter compiles once into a predicate over scored lines; a search into a pattern the
renderer highlights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from logwatch.core.alerts import SEVERITY, canonical_level, level_names
from logwatch.core.timeline import source_tag
from logwatch.core.types import ScoredLine


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
            plus = term.endswith("+")
            wanted = canonical_level(term[6:].rstrip("+"))
            if wanted is None:
                raise FilterError(f"unknown level {term[6:]!r}; use one of {', '.join(SEVERITY)}")
            chosen = level_names(SEVERITY[SEVERITY.index(wanted):] if plus else (wanted,))
            levels = set(chosen) if levels is None else levels & chosen
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
