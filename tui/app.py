"""The live monitor: session list, log view, surprise sparklines, alert banner and details.

The app only displays. One pipeline thread (:mod:`.pipeline`) reads, scores and records, and
posts a batch of scored lines every ~75 ms; the app files each batch into bounded
per-session buffers, updates the view, the sparklines and the alert list, and never touches
the model.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, OptionList, Sparkline, Static
from textual.widgets.option_list import Option

from logwatch.core.known_normal import KnownNormalError
from logwatch.core.types import ScoredLine, SessionEnd
from logwatch.themes import CSS_PATH, DEFAULT_THEME, THEMES

from .messages import LinesScored, SessionsEnded, Status, StatusChanged
from .marks import mark_session, toggle_line
from .pipeline import Pipeline, PipelineConfig
from .render import FilterError, Palette, parse_filter, safe_text, search_pattern, short_session
from .widgets.log_view import LogView
from .views import AppLimits, Pending, SessionView
from .widgets.panels import HelpScreen, banner_text, detail_renderable, status_text

ALL = "*all*"


class LogwatchApp(App[int]):
    """``logwatch`` in a terminal."""

    TITLE = "logwatch"
    _mounted_ui = False  # set on mount: the theme watcher must not touch widgets before then
    CSS_PATH = CSS_PATH
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
        self.limits = limits or AppLimits()
        self.pipeline = Pipeline(config, self.post_message, clock=clock, sleep=sleep)
        self.start_pipeline = start_pipeline
        self.status = self.pipeline.status
        self.sessions: OrderedDict[str, SessionView] = OrderedDict()
        self.all_lines: deque[ScoredLine] = deque(maxlen=self.limits.all_lines)
        self.stream_losses: deque[float] = deque(maxlen=self.limits.spark_points)
        self.alerts: deque[ScoredLine] = deque(maxlen=self.limits.alerts)
        self.alert_count = 0
        self.view = ALL
        self.focused_session: str | None = None
        self.ask_mode = ""
        self._dirty = Pending()
        self._palette = Palette()

    # -- layout --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="banner")
        with Horizontal(id="main"):
            with Vertical(id="sidebar"):
                yield Static("sessions", classes="title")
                yield OptionList(Option("all lines", id=ALL), id="sessions")
                yield Static("alerts", classes="title")
                yield OptionList(id="alerts")
            with Vertical(id="right"):
                with Horizontal(classes="spark-row"):
                    yield Static("stream", classes="spark-label")
                    yield Sparkline([], id="spark-stream")
                with Horizontal(classes="spark-row"):
                    yield Static("session -", classes="spark-label", id="spark-session-label")
                    yield Sparkline([], id="spark-session")
                yield LogView(max_lines=self.limits.all_lines, palette=lambda: self._palette,
                              threshold=lambda: self.status.threshold, id="log")
                yield Static(id="detail")
        yield Input(id="query")
        yield Static(id="status")

    def on_mount(self) -> None:
        self._mounted_ui = True
        self._palette = self._palette_from_theme()
        self.query_one("#log", LogView).focus()
        self._show_status()
        self.set_interval(0.5, self._refresh_sidebar)
        if self.start_pipeline:
            self.run_pipeline()

    @work(thread=True, exclusive=True, group="pipeline")
    def run_pipeline(self) -> None:
        self.pipeline.run()

    def watch_theme(self, _theme: str) -> None:
        if self._mounted_ui:
            self._palette = self._palette_from_theme()
            self.query_one("#log", LogView).invalidate()

    def _palette_from_theme(self) -> Palette:
        theme = THEMES.get(self.theme)
        if theme is None:  # a built-in Textual theme picked from the palette: derive a ramp
            v = self.theme_variables
            return Palette(ramp=(v.get("foreground-muted", "#888888"), v.get("success", "green"), v.get("warning", "yellow"),
                                 v.get("accent", "orange"), v.get("error", "red")),
                           muted=v.get("foreground-muted", "#888888"), alert=v.get("error", "red"),
                           match=v.get("warning", "yellow"))
        ramp = tuple(theme.variables[f"loss-{i}"] for i in range(5))
        return Palette(ramp=ramp, muted=theme.variables["loss-muted"], alert=ramp[-1], match=theme.warning or ramp[2])

    # -- pipeline messages ---------------------------------------------------------------
    def on_lines_scored(self, message: LinesScored) -> None:
        self.status = message.status
        log = self.query_one("#log", LogView)
        shown: list[ScoredLine] = []
        newest_alert: ScoredLine | None = None
        for line in message.lines:
            self.all_lines.append(line)
            view = self._session(line.session)
            view.lines.append(line)
            view.count += 1
            view.last_n = line.n
            if line.loss is not None:
                view.losses.append(line.loss)
                view.max_loss = max(view.max_loss, line.loss)
                self.stream_losses.append(line.loss)
            if line.alert and not view.alerted:
                # The banner and the alert list are per session: the line that crossed the rule.
                # Later over-threshold lines of the session stay marked in the view (a/A visit them).
                self._add_alert(view, line)
                newest_alert = line
            if self.view == ALL or line.session == self.view:
                shown.append(line)
        self._dirty.sessions = True
        if shown:
            log.add_lines(shown)
        self.query_one("#spark-stream", Sparkline).data = list(self.stream_losses)
        focus = self.focused_session
        if focus in self.sessions:
            self.query_one("#spark-session", Sparkline).data = list(self.sessions[focus].losses)
        if newest_alert is not None:
            self._raise_banner(newest_alert)
        self._show_status()

    def on_sessions_ended(self, message: SessionsEnded) -> None:
        """Session-check verdicts: a session that ended unlike any normal one alerts at its last line."""
        for end in message.ends:
            view = self.sessions.get(end.session)
            if not end.alert or view is None or view.alerted or not view.lines:
                continue
            self._add_alert(view, view.lines[-1])
            self._dirty.sessions = True
            self._raise_banner(view.lines[-1], end)

    def _add_alert(self, view: SessionView, line: ScoredLine) -> None:
        """The session's one entry in the alert list (and its ▲ in the session list)."""
        self.alert_count += 1
        self.alerts.append(line)
        view.alerted = True
        self._dirty.alerts = True

    def on_status_changed(self, message: StatusChanged) -> None:
        self.status = message.status
        self.query_one("#log", LogView).invalidate()
        self._show_status()

    def _session(self, key: str) -> SessionView:
        view = self.sessions.get(key)
        if view is None:
            view = SessionView(key, deque(maxlen=self.limits.session_lines), deque(maxlen=self.limits.spark_points))
            self.sessions[key] = view
            if len(self.sessions) > self.limits.sessions:
                self._evict_session()
        else:
            self.sessions.move_to_end(key)
        if self.focused_session is None and not key.startswith("<unkeyed"):
            self._focus_session(key)
        return view

    def _evict_session(self) -> None:
        victim = next((k for k, v in self.sessions.items() if not v.alerted and k != self.view), None)
        victim = victim or next(k for k in self.sessions if k != self.view)
        del self.sessions[victim]

    def _raise_banner(self, line: ScoredLine, ended: SessionEnd | None = None) -> None:
        banner = self.query_one("#banner", Static)
        banner.update(banner_text(line, self.status.threshold, self.alert_count, ended))
        banner.add_class("-shown")
        self._focus_session(line.session)

    def _focus_session(self, key: str) -> None:
        self.focused_session = key
        self.query_one("#spark-session-label", Static).update(f"session {safe_text(short_session(key), 8)}")
        view = self.sessions.get(key)
        self.query_one("#spark-session", Sparkline).data = list(view.losses) if view else []

    def _show_status(self) -> None:
        log = self.query_one("#log", LogView)
        name = "all lines" if self.view == ALL else short_session(self.view)
        self.query_one("#status", Static).update(
            status_text(self.status, alerts=self.alert_count, follow=log.follow, new_lines=log.new_lines, view=name))

    def _refresh_sidebar(self) -> None:
        if not self.is_running:  # the interval can fire while shutdown is removing the widgets
            return
        if self._dirty.sessions:
            self._dirty.sessions = False
            sessions = self.query_one("#sessions", OptionList)
            highlighted = sessions.highlighted_option.id if sessions.highlighted_option else None
            ordered = sorted(self.sessions.values(), key=lambda v: (not v.alerted, -v.last_n))[:200]
            options = [Option("all lines", id=ALL)] + [
                Option(f"{'▲' if v.alerted else ' '} {safe_text(short_session(v.key), 24):<13} {v.count:>5} "
                       f"{v.max_loss:5.1f}", id=v.key) for v in ordered]
            sessions.set_options(options)
            if highlighted is not None:
                try:
                    sessions.highlighted = sessions.get_option_index(highlighted)
                except Exception:  # noqa: BLE001 - the session was evicted
                    pass
        if self._dirty.alerts:
            self._dirty.alerts = False
            alerts = self.query_one("#alerts", OptionList)
            alerts.set_options([Option(f"{safe_text((a.ts or '')[-12:], 12)} {safe_text(short_session(a.session), 13)} "
                                       f"{a.loss or 0:4.1f}", id=f"{a.n}") for a in reversed(self.alerts)])
        self._show_status()

    # -- user actions --------------------------------------------------------------------
    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        option_id = event.option.id or ALL
        if event.option_list.id == "sessions":
            self.show_view(option_id)
        elif event.option_list.id == "alerts":
            self.jump_to_line(int(option_id))

    def show_view(self, key: str) -> None:
        """Switch the log view to one session's lines, or to all lines."""
        if key != ALL and key not in self.sessions:
            return
        self.view = key
        lines = self.all_lines if key == ALL else self.sessions[key].lines
        self.query_one("#log", LogView).replace_lines(lines)
        if key != ALL:
            self._focus_session(key)
        self._show_status()

    def jump_to_line(self, n: int) -> None:
        log = self.query_one("#log", LogView)
        if not log.find(lambda x: x.n == n):
            self.show_view(ALL)
            log.find(lambda x: x.n == n)
        log.focus()
        self._show_status()

    def action_alert(self, direction: int) -> None:
        log = self.query_one("#log", LogView)
        if log.find(lambda x: x.alert, forward=direction > 0):
            line = log.selected
            if line is not None:
                self._focus_session(line.session)
        else:
            self.notify("no alert in this view", timeout=2)
        self._show_status()

    def action_match(self, direction: int) -> None:
        log = self.query_one("#log", LogView)
        if log.search is None:
            self.notify("no search: press / first", timeout=2)
        elif not log.find(lambda x: bool(log.search and log.search.search(x.text)), forward=direction > 0):
            self.notify("no match in this view", timeout=2)
        self._show_status()

    def action_ask(self, mode: str) -> None:
        self.ask_mode = mode
        box = self.query_one("#query", Input)
        box.placeholder = ("search: text or /regex/ (enter; n/N to move)" if mode == "search" else
                           "filter: text  !text  /regex/  level:WARNING+  loss>2.5   (empty = show all)")
        log = self.query_one("#log", LogView)
        box.value = (log.line_filter.source if log.line_filter else "") if mode == "filter" else ""
        box.add_class("-shown")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        log = self.query_one("#log", LogView)
        try:
            if self.ask_mode == "filter":
                log.set_filter(parse_filter(event.value))
            else:
                log.set_search(search_pattern(event.value))
                if log.search is not None and not log.find(lambda x: bool(log.search.search(x.text))):
                    self.notify("no match", timeout=2)
        except FilterError as exc:
            self.notify(str(exc), severity="error", timeout=4)
            return
        event.input.remove_class("-shown")
        log.focus()
        self._show_status()

    def on_log_view_chosen(self, event: LogView.Chosen) -> None:
        detail = self.query_one("#detail", Static)
        store = self.pipeline.config.known_normal
        detail.update(detail_renderable(event.line, self.status.threshold, self._palette,
                                        marked=store is not None and store.matches(event.line.text)))
        detail.add_class("-shown")
        self._focus_session(event.line.session)

    def action_toggle_all(self) -> None:
        log = self.query_one("#log", LogView)
        selected = log.selected
        target = selected.session if selected is not None else self.focused_session
        if self.view != ALL:
            self.show_view(ALL)
        elif target is not None:
            self.show_view(target)

    def action_mark_normal(self, whole_session: bool) -> None:
        """m: the selected line's pattern is normal (again: not); M: every surprising line of its session."""
        store = self.pipeline.config.known_normal
        line = self.query_one("#log", LogView).selected
        if store is None or line is None:
            self.notify("marking is off (--known-normal none)" if store is None else "select a line first", timeout=3)
            return
        replaying = self.pipeline.config.replay is not None
        try:
            if whole_session:
                view = self.sessions.get(line.session)
                message = mark_session(store, line, view.lines if view else [line], self.status.threshold,
                                       replaying=replaying)
            else:
                message = toggle_line(store, line, replaying=replaying)
            store.save()
        except KnownNormalError as exc:
            self.notify(str(exc), severity="error", timeout=6, markup=False)
            return
        self.notify(f"{message} ({store.path})", timeout=4, markup=False)

    def action_close(self) -> None:
        for widget_id in ("#query", "#detail", "#banner"):
            widget = self.query_one(widget_id)
            if widget.has_class("-shown"):
                widget.remove_class("-shown")
                self.query_one("#log", LogView).focus()
                return

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
        if self.pipeline.config.replay is not None:
            speed = self.pipeline.change_speed(factor)
            self.status = Status(**{**self.status.__dict__, "speed": speed})
            self._show_status()

    async def action_quit(self) -> None:
        self.exit(0)

    def exit(self, result: int | None = None, return_code: int = 0, message: object = None) -> None:  # type: ignore[override]
        """Every way out (q, ctrl+c, the palette, SIGTERM) stops the pipeline first: its thread
        then closes the recording, and the app does not wait on a reader that never ends."""
        self.pipeline.stop()
        super().exit(result, return_code, message)  # type: ignore[arg-type]
