"""A log view for 100k+ lines: a ScrollView that renders only the visible rows.

Lines arrive in batches (one call per pipeline message), the buffer is bounded, rows are
rendered lazily by :meth:`render_line` from plain data through :func:`render.line_text`,
and rendered strips are cached. Follow mode keeps the newest line in view; scrolling or
moving the cursor up pauses it and a "+N new" counter appears until ``end`` resumes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from logwatch.core.types import ScoredLine

from ..filters import LineFilter
from ..render import Palette, line_text


class LogView(ScrollView, can_focus=True):
    """Scored lines, coloured by loss, with a cursor, a filter and search highlighting."""

    DEFAULT_CSS = """
    LogView { height: 1fr; background: $surface; overflow-x: hidden; }
    LogView:focus { background-tint: $foreground 3%; }
    """
    COMPONENT_CLASSES = {"logview--cursor"}
    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-20)", "Page up", show=False),
        Binding("pagedown", "cursor(20)", "Page down", show=False),
        Binding("home,g", "top", "Top", show=False),
        Binding("end,G", "follow", "Follow", show=False),
        Binding("enter", "choose", "Details", show=False),
    ]

    follow: reactive[bool] = reactive(True)
    """Keep the newest line in view. Turned off by scrolling or moving up; ``end`` resumes."""
    new_lines: reactive[int] = reactive(0)
    """Lines that arrived while not following (the "+N new" badge)."""
    cursor: reactive[int] = reactive(-1, always_update=True)
    """Index into the visible rows of the selected line; -1 = none."""

    class Chosen(Message):
        """The user pressed enter on a line."""

        def __init__(self, line: ScoredLine) -> None:
            super().__init__()
            self.line = line

    def __init__(self, *, max_lines: int = 100_000, show_session: bool = True,
                 palette: Callable[[], Palette] = Palette, threshold: Callable[[], float | None] = lambda: None,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        self.show_session = show_session
        self._palette = palette
        self._threshold = threshold
        self.lines: list[ScoredLine] = []
        self.rows: list[ScoredLine] = []
        self.line_filter: LineFilter | None = None
        self.search: re.Pattern[str] | None = None
        self._cache: LRUCache[tuple[int, int, int, bool], Strip] = LRUCache(2048)
        self._generation = 0
        self.sources: dict[str, int] = {}
        """Each log seen, in first-seen order: its colour in a merged view (kept across sessions)."""

    # -- data ----------------------------------------------------------------------------
    def add_lines(self, batch: Iterable[ScoredLine]) -> None:
        batch = list(batch)
        self._note_sources(batch)
        self.lines.extend(batch)
        shown = [x for x in batch if self.line_filter(x)] if self.line_filter else batch
        if self.rows is not self.lines:
            self.rows.extend(shown)
        self._trim()
        if not self.follow:
            self.new_lines += len(shown)
        self._resize()

    def replace_lines(self, lines: Iterable[ScoredLine]) -> None:
        """Show another set of lines (a different session), keeping the filter."""
        self.lines = list(lines)[-self.max_lines:]
        self._note_sources(self.lines)
        self.cursor = -1
        self.follow = True
        self.new_lines = 0
        self._refilter()

    def _note_sources(self, lines: list[ScoredLine]) -> None:
        """Give new logs their colour; the tag column appears (redrawing every row) with the second."""
        before = len(self.sources)
        for line in lines:
            if line.source not in self.sources:
                self.sources[line.source] = len(self.sources)
        if before < 2 <= len(self.sources):
            self.invalidate()

    def set_filter(self, line_filter: LineFilter | None) -> None:
        self.line_filter = line_filter if line_filter and line_filter.active else None
        self.cursor = -1
        self._refilter()

    def set_search(self, pattern: re.Pattern[str] | None) -> None:
        self.search = pattern
        self.invalidate()

    def invalidate(self) -> None:
        """Drop cached rows (theme, threshold or search changed)."""
        self._generation += 1
        self._cache.clear()
        self.refresh()

    def _refilter(self) -> None:
        self.rows = [x for x in self.lines if self.line_filter(x)] if self.line_filter else self.lines
        self.invalidate()
        self._resize()

    def _trim(self) -> None:
        # Trim in chunks (a quarter over the cap) so the list is not shifted on every batch.
        if len(self.lines) > self.max_lines * 1.25:
            drop = len(self.lines) - self.max_lines
            first_kept = self.lines[drop]
            del self.lines[:drop]
            if self.rows is not self.lines:
                cut = next((i for i, x in enumerate(self.rows) if x.n >= first_kept.n), len(self.rows))
                del self.rows[:cut]
            else:
                cut = drop
            if self.cursor >= 0:
                self.cursor = max(-1, self.cursor - cut)
            self._cache.clear()

    def _resize(self) -> None:
        # Rows are cut to the view's width (never scrolled sideways); overflow-x is hidden, so a
        # vertical scrollbar appearing cannot bring a horizontal one with it.
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.rows))
        if self.follow:
            self.scroll_to(y=max(0, len(self.rows) - self.scrollable_content_region.height), animate=False,
                           immediate=True)
        self.refresh()

    # -- navigation ----------------------------------------------------------------------
    def watch_follow(self, follow: bool) -> None:
        if follow:
            self.new_lines = 0

    def _on_mouse_scroll_up(self, event: object) -> None:
        self.follow = False

    def action_cursor(self, delta: int) -> None:
        if not self.rows:
            return
        start = self.cursor if self.cursor >= 0 else len(self.rows) - 1 if delta < 0 else int(self.scroll_y)
        self.move_to(max(0, min(len(self.rows) - 1, start + delta)))

    def move_to(self, index: int) -> None:
        """Put the cursor on a row and scroll it into view; leaving the bottom pauses follow."""
        self.cursor = index
        self.follow = index >= len(self.rows) - 1
        height = self.scrollable_content_region.height
        if index < self.scroll_y or index >= self.scroll_y + height:
            self.scroll_to(y=max(0, index - height // 2), animate=False, immediate=True)
        self.refresh()

    def action_top(self) -> None:
        self.follow = False
        if self.rows:
            self.move_to(0)

    def action_follow(self) -> None:
        self.cursor = -1
        self.follow = True
        self._resize()

    def action_choose(self) -> None:
        line = self.selected
        if line is not None:
            self.post_message(self.Chosen(line))

    @property
    def selected(self) -> ScoredLine | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def find(self, predicate: Callable[[ScoredLine], bool], forward: bool = True) -> bool:
        """Move the cursor to the next (or previous) row matching predicate; wraps around."""
        if not self.rows:
            return False
        n = len(self.rows)
        here = self.cursor if self.cursor >= 0 else (n - 1 if forward else 0)
        for step in range(1, n + 1):
            i = (here + step) % n if forward else (here - step) % n
            if predicate(self.rows[i]):
                self.move_to(i)
                return True
        return False

    # -- rendering -----------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_y) + y
        width = self.scrollable_content_region.width
        if index >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        selected = index == self.cursor
        key = (self.rows[index].n, width, self._generation, selected)
        cached = self._cache.get(key)
        if cached is None:
            row = self.rows[index]
            text = line_text(row, self._threshold(), self._palette(), show_session=self.show_session,
                             search=self.search, source=self.sources.get(row.source) if len(self.sources) > 1 else None)
            text.truncate(width, overflow="ellipsis", pad=True)
            segments = [s for s in text.render(self.app.console) if s.text != "\n"]
            cached = Strip(segments).adjust_cell_length(width)
            base = self.rich_style
            cached = cached.apply_style(base) if not selected else cached.apply_style(
                base + self.get_component_rich_style("logview--cursor"))
            self._cache[key] = cached
        return cached

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new < old and new < self.max_scroll_y:
            self.follow = False
        elif new >= self.max_scroll_y and self.cursor < 0:
            self.follow = True

