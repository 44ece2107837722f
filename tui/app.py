"""The live monitor: session list, log view, surprise sparklines, alert banner and details.

The app only displays. One pipeline thread (:mod:`.pipeline`) reads, scores and records, and
posts a batch of scored lines every ~75 ms; the app files each batch into its headless
:class:`~.state.MonitorState` and gives each widget what changed. It never touches the model.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.notifications import SeverityLevel
from textual.widgets import Input, OptionList, Sparkline, Static

from logwatch.core.escape import MESSAGE_CHARS, printable
from logwatch.core.known_normal import KnownNormalError
from logwatch.themes import CSS_PATH, DEFAULT_THEME, THEMES

from .filters import FilterError, parse_filter, search_pattern
from .marks import mark_session, toggle_line, toggle_snooze
from .messages import LinesScored, SessionsEnded, StatusChanged
from .pipeline import Pipeline, PipelineConfig
from .render import Palette, safe_text, short_session
from .state import ALL, AppLimits, MonitorState, NewAlert
from .widgets.log_view import LogView
from .widgets.panels import Banner, DetailPanel, HelpScreen, StatusBar, banner_text, detail_renderable
from .widgets.sidebar import AlertList, SessionList


class LogwatchApp(App[int]):
    """``logwatch`` in a terminal."""

    TITLE = "logwatch"
    CSS_PATH = CSS_PATH
    #: Set on mount. A class attribute, because setting the theme in __init__ runs the theme
    #: watcher before __init__ is done, and the watcher must not touch widgets before mount.
    _mounted_ui = False
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("a", "alert(1)", "Next alert"),
        Binding("A", "alert(-1)", "Prev alert"),
        Binding("slash", "ask('search')", "Search"),
        Binding("f", "ask('filter')", "Filter"),
        Binding("n", "match(1)", "Next match", show=False),
        Binding("N", "match(-1)", "Prev match", show=False),
        Binding("s", "toggle_all", "All/session"),
        Binding("m", "mark_normal(False)", "Mark normal"),
        Binding("M", "mark_normal(True)", "Mark session normal", show=False),
        Binding("z", "snooze", "Snooze"),
        Binding("L", "relearn", "Learn again", show=False),
        Binding("escape", "close", "Close", show=False),
        Binding("space", "pause", "Pause replay", show=False),
        Binding("full_stop", "step", "Step replay", show=False),
        Binding("plus", "speed(2.0)", "Faster", show=False),
        Binding("minus", "speed(0.5)", "Slower", show=False),
    ]

    def __init__(self, config: PipelineConfig, *, theme: str = DEFAULT_THEME, limits: AppLimits | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 start_pipeline: bool = True) -> None:
        super().__init__()
        for t in THEMES.values():
            self.register_theme(t)
        self.theme = theme if theme in self.available_themes else DEFAULT_THEME
        self.pipeline = Pipeline(config, self.post_message, clock=clock, sleep=sleep)
        self.start_pipeline = start_pipeline
        self.status = self.pipeline.status
        """The pipeline's latest status (the pipeline owns it; every message carries a copy)."""
        self._warned = ""
        self.state = MonitorState(limits)
        self.ask_mode = ""
        self._palette = Palette()
        self.banner = Banner(id="banner")
        self.session_list = SessionList(id="sessions")
        self.alert_list = AlertList(id="alerts")
        self.spark_stream = Sparkline([], id="spark-stream")
        self.spark_session = Sparkline([], id="spark-session")
        self.spark_label = Static("session -", classes="spark-label", id="spark-session-label")
        self.log_view = LogView(max_lines=self.state.limits.all_lines, palette=lambda: self._palette,
                                threshold=lambda: self.status.threshold, id="log")
        self.detail = DetailPanel(id="detail")
        self.query_box = Input(id="query")
        self.status_bar = StatusBar(id="status")

    # -- layout --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield self.banner
        with Horizontal(id="main"):
            with Vertical(id="sidebar"):
                yield Static("sessions", classes="title")
                yield self.session_list
                yield Static("alerts", classes="title")
                yield self.alert_list
            with Vertical(id="right"):
                with Horizontal(classes="spark-row"):
                    yield Static("stream", classes="spark-label")
                    yield self.spark_stream
                with Horizontal(classes="spark-row"):
                    yield self.spark_label
                    yield self.spark_session
                yield self.log_view
                yield self.detail
        yield self.query_box
        yield self.status_bar

    def on_mount(self) -> None:
        self._mounted_ui = True
        self._palette = self._palette_from_theme()
        self.log_view.focus()
        self._show_status()
        self.set_interval(0.5, self.refresh_sidebar)
        if self.start_pipeline:
            self.run_pipeline()

    @work(thread=True, exclusive=True, group="pipeline")
    def run_pipeline(self) -> None:
        self.pipeline.run()

    def watch_theme(self, _theme: str) -> None:
        if self._mounted_ui:
            self._palette = self._palette_from_theme()
            self.log_view.invalidate()

    def _palette_from_theme(self) -> Palette:
        theme = THEMES.get(self.theme)
        if theme is None:  # a built-in Textual theme picked from the palette: derive a ramp
            v = self.theme_variables
            return Palette(ramp=(v.get("foreground-muted", "#888888"), v.get("success", "green"), v.get("warning", "yellow"),
                                 v.get("accent", "orange"), v.get("error", "red")),
                           muted=v.get("foreground-muted", "#888888"), alert=v.get("error", "red"),
                           match=v.get("warning", "yellow"),
                           sources=(v.get("primary", "blue"), v.get("secondary", "magenta"), v.get("foreground", "white")))
        return Palette.of(theme)

    # -- pipeline messages ---------------------------------------------------------------
    def on_lines_scored(self, message: LinesScored) -> None:
        self.status = message.status
        changes = self.state.add_lines(message.lines, message.pending)
        if changes.shown:
            self.log_view.add_lines(changes.shown)
        if changes.updated:
            self.log_view.invalidate()
        self.spark_stream.data = list(self.state.stream_losses)
        if changes.alerts:
            self._raise_banner(changes.alerts[-1])
        self._draw_focus()
        self._show_status()

    def on_sessions_ended(self, message: SessionsEnded) -> None:
        new = self.state.add_ends(message.ends)
        if new:
            self._raise_banner(new[-1])
            self._draw_focus()

    def on_status_changed(self, message: StatusChanged) -> None:
        previous, self.status = self.status, message.status
        if message.status.warning and message.status.warning != self._warned:
            self._warned = message.status.warning
            self.notify(message.status.warning, severity="error", timeout=10, markup=False)
        note = message.status.note
        if note != previous.note and note.startswith(("learned again", "not learned again")):
            self.notify(note, timeout=8, markup=False)  # the status bar's note is cut on narrow screens
        self.log_view.invalidate()
        self._show_status()

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every toast: its text escaped (file names, exception text), never read as markup."""
        super().notify(printable(message, MESSAGE_CHARS), title=printable(title, 200), severity=severity,
                       timeout=timeout, markup=False)

    def _raise_banner(self, alert: NewAlert) -> None:
        self.banner.show(banner_text(alert.line, alert.event, self.state.groups.opened, alert.ended))

    def _draw_focus(self) -> None:
        """The session sparkline follows the focused session (the newest alert, or the one selected)."""
        key = self.state.focused
        self.spark_label.update(Text(f"session {safe_text(short_session(key), 8)}" if key else "session -"))
        self.spark_session.data = self.state.focused_losses()

    def _show_status(self) -> None:
        name = "all lines" if self.state.view == ALL else short_session(self.state.view)
        self.status_bar.show(self.status, alerts=self.state.alert_count, follow=self.log_view.follow,
                             new_lines=self.log_view.new_lines, view=name)

    def refresh_sidebar(self) -> None:
        """Redraw the lists if they changed (at most twice a second: they are sorted and rebuilt)."""
        if not self.is_running:  # the interval can fire while shutdown is removing the widgets
            return
        sessions_changed, alerts_changed = self.state.take_changes()
        if sessions_changed:
            self.session_list.show(self.state.session_rows())
        if alerts_changed:
            self.alert_list.show(self.state.alert_rows())
        self._show_status()

    # -- user actions --------------------------------------------------------------------
    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        option_id = event.option.id or ALL
        if event.option_list is self.session_list:
            self.show_view(option_id)
        elif event.option_list is self.alert_list:
            self.show_group(int(option_id))

    def show_view(self, key: str) -> None:
        """Switch the log view to one session's lines, or to all lines."""
        lines = self.state.show(key)
        if lines is None:
            return
        self.log_view.replace_lines(lines)
        self._draw_focus()
        self._show_status()

    def show_group(self, key: int) -> None:
        """The log view shows one alert group's lines (its occurrences); s or a session goes back."""
        lines = self.state.group_lines(key)
        if not lines:
            return
        self.state.view = f"#{key}"
        self.log_view.replace_lines(lines)
        self.log_view.move_to(0)
        self._focus_selected()
        self._show_status()

    def jump_to_line(self, n: int) -> None:
        if not self.log_view.find(lambda x: x.n == n):
            self.show_view(ALL)
            self.log_view.find(lambda x: x.n == n)
        self.log_view.focus()
        self._show_status()

    def _focus_selected(self) -> None:
        line = self.log_view.selected
        if line is not None:
            self.state.focused = line.session
            self._draw_focus()

    def action_alert(self, direction: int) -> None:
        """a / A: the next (previous) alert line of another group than the selected line's."""
        groups = self.state.line_group
        here = self.log_view.selected
        current = groups.get(here.n) if here is not None else None
        if self.log_view.find(lambda x: x.alert and (current is None or groups.get(x.n) != current),
                              forward=direction > 0):
            self._focus_selected()
        else:
            self.notify("no other alert group in this view", timeout=2)
        self._show_status()

    def action_match(self, direction: int) -> None:
        search = self.state.search
        if search is None:
            self.notify("no search: press / first", timeout=2)
        elif not self.log_view.find(lambda x: bool(search.search(x.text)), forward=direction > 0):
            self.notify("no match in this view", timeout=2)
        self._show_status()

    def action_ask(self, mode: str) -> None:
        self.ask_mode = mode
        box = self.query_box
        box.placeholder = ("search: text or /regex/ (enter; n/N to move)" if mode == "search" else
                           "filter: text  !text  /regex/  level:WARNING+  loss>2.5  source:api   (empty = show all)")
        current = self.state.line_filter
        box.value = (current.source if current else "") if mode == "filter" else ""
        box.add_class("-shown")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            if self.ask_mode == "filter":
                self.state.line_filter = parse_filter(event.value)
                self.log_view.set_filter(self.state.line_filter)
            else:
                search = self.state.search = search_pattern(event.value)
                self.log_view.set_search(search)
                if search is not None and not self.log_view.find(lambda x: bool(search.search(x.text))):
                    self.notify("no match", timeout=2)
        except FilterError as exc:
            self.notify(str(exc), severity="error", timeout=4, markup=False)
            return
        event.input.remove_class("-shown")
        self.log_view.focus()
        self._show_status()

    def on_log_view_chosen(self, event: LogView.Chosen) -> None:
        store = self.pipeline.config.known_normal
        self.detail.show(detail_renderable(event.line, self.status.threshold, self._palette,
                                           marked=store is not None and store.is_known_pattern(event.line.pattern)))
        self.state.focused = event.line.session
        self._draw_focus()

    def action_toggle_all(self) -> None:
        selected = self.log_view.selected
        target = selected.session if selected is not None else self.state.focused
        if self.state.view != ALL:
            self.show_view(ALL)
        elif target is not None:
            self.show_view(target)

    def action_mark_normal(self, whole_session: bool) -> None:
        """m: the selected line's pattern is normal (again: not); M: every surprising line of its session."""
        store = self.pipeline.config.known_normal
        line = self.log_view.selected
        if store is None or line is None:
            self.notify("marking is off (--known-normal none)" if store is None else "select a line first", timeout=3)
            return
        replaying = self.pipeline.config.replay is not None
        try:
            if whole_session:
                view = self.state.sessions.get(line.session)
                message = mark_session(store, line, view.lines if view else [line], self.status.threshold,
                                       replaying=replaying)
            else:
                message = toggle_line(store, line, replaying=replaying)
            store.save()
        except KnownNormalError as exc:
            self.notify(str(exc), severity="error", timeout=6, markup=False)
            return
        self.notify(f"{message} ({store.path})", timeout=4, markup=False)

    def action_snooze(self) -> None:
        """z: no alert from the selected line's pattern for an hour (z again: end the snooze)."""
        store = self.pipeline.config.known_normal
        line = self.log_view.selected
        if store is None or line is None:
            self.notify("snoozing is off (--known-normal none)" if store is None else "select a line first", timeout=3)
            return
        try:
            message = toggle_snooze(store, line, replaying=self.pipeline.config.replay is not None)
            store.save()
        except KnownNormalError as exc:
            self.notify(str(exc), severity="error", timeout=6, markup=False)
            return
        self.notify(f"{message} ({store.path})", timeout=4, markup=False)

    def action_relearn(self) -> None:
        """L: learn the log again now, in the background, from the recent lines of sessions that did not alert."""
        self.notify(self.pipeline.relearn(), timeout=4, markup=False)

    def action_close(self) -> None:
        if self.query_box.has_class("-shown"):
            self.query_box.remove_class("-shown")
        elif not (self.detail.hide() or self.banner.hide()):
            return
        self.log_view.focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_pause(self) -> None:
        if self.pipeline.config.replay is None:
            self.notify("pause applies to replays; scroll up to pause following", timeout=2)
            return
        paused = self.pipeline.toggle_pause()
        self.notify("replay paused (. steps, space resumes)" if paused else "replay resumed", timeout=2)

    def action_step(self) -> None:
        self.pipeline.step()

    def action_speed(self, factor: float) -> None:
        """Replay faster or slower: the pipeline changes its speed and posts its new status."""
        if self.pipeline.config.replay is not None:
            self.pipeline.change_speed(factor)

    async def action_quit(self) -> None:
        self.exit(0)

    def exit(self, result: int | None = None, return_code: int = 0, message: object = None) -> None:
        """Every way out (q, ctrl+c, the palette, SIGTERM) stops the pipeline first: its thread
        then closes the recording, and the app does not wait on a reader that never ends."""
        self.pipeline.stop()
        super().exit(result, return_code, message)  # type: ignore[arg-type]
