"""The app driven like a user would, with Pilot: a real tiny model scores a generated incident
log (no stub in place of the scorer), then the recording of that run is replayed."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from helpers import wait_until
from textual.widgets import OptionList

from logwatch.core.generator import GeneratedLog
from logwatch.core.masking import mask_line
from logwatch.core.replay import read_recording
from logwatch.themes import DEFAULT_THEME
from logwatch.tui.app import LogwatchApp
from logwatch.tui.pipeline import PipelineConfig
from logwatch.tui.render import Palette
from logwatch.tui.state import ALL
from logwatch.tui.widgets.log_view import LogView

SIZE = (140, 40)


def _alerted(app: LogwatchApp) -> set[str]:
    return {key for key, view in app.state.sessions.items() if view.alerted}


async def test_live_scoring_alert_detail_filter_and_replay(tiny_model_dir: Path, incident_file: Path,
                                                           incident_log: GeneratedLog, tmp_path: Path, wait_end) -> None:
    rec = tmp_path / "live.lwrec"
    config = PipelineConfig.build(paths=[str(incident_file)], follow=False, model_dir=str(tiny_model_dir), device="cpu",
                            record=str(rec))
    app = LogwatchApp(config)
    incident = incident_log.incidents[0]
    async with app.run_test(size=SIZE) as pilot:
        await wait_end(app, pilot)
        log = app.query_one("#log", LogView)
        assert app.status.model == tiny_model_dir.name and app.status.lines == len(incident_log.lines)
        assert len(log.rows) == len(incident_log.lines)
        assert incident.session in _alerted(app)
        banner = app.query_one("#banner")
        assert banner.has_class("-shown")  # tells the newest alert group: its number and why
        newest = max(app.state.groups.groups.values(), key=lambda g: g.key)
        assert f"#{newest.key}" in str(banner.render()) and "why: " in str(banner.render())
        alert_list = app.query_one("#alerts", OptionList)
        listed = [str(alert_list.get_option_at_index(i).prompt) for i in range(alert_list.option_count)]
        assert len(listed) == len(app.state.groups.groups)  # one row per group, not per line
        incident_group = app.state.groups.group_of(mask_line(incident_log.lines[incident.first_line - 1]),
                                                   incident.session)
        assert incident_group is not None and incident_group.first_n <= incident.first_line
        assert any(row.startswith(f"#{incident_group.key} ") for row in listed)
        # Jump to an alert, open its details.
        await pilot.press("home", "a")
        assert log.selected is not None and log.selected.alert
        assert not log.follow  # moving the cursor up paused following
        await pilot.press("enter")
        detail = app.query_one("#detail")
        assert detail.has_class("-shown") and "surprising" in app.export_screenshot()
        await pilot.press("escape")
        assert not detail.has_class("-shown")
        # Filter to errors only.
        await pilot.press("f")
        for key in "level:ERROR":
            await pilot.press(key)
        await pilot.press("enter")
        assert log.rows and all(x.level == "ERROR" for x in log.rows)
        assert len(log.rows) < len(incident_log.lines)
        # Search and move between matches.
        await pilot.press("f", "ctrl+u", "enter", "slash", *"Claim successful", "enter")
        assert log.selected is not None and "Claim successful" in log.selected.text
        first = log.cursor
        await pilot.press("n")
        assert log.cursor != first and "Claim successful" in log.rows[log.cursor].text
        # Switch to the incident's session pane and back.
        app.show_view(incident.session)
        await pilot.pause()
        assert {x.session for x in log.rows} == {incident.session}
        await pilot.press("s")
        assert app.state.view == ALL
        live_alerted = _alerted(app)
        await pilot.press("q")
    _header, records = read_recording(rec)
    assert len(list(records)) == len(incident_log.lines)

    replay = LogwatchApp(PipelineConfig.build(replay=str(rec), speed=0))
    async with replay.run_test(size=SIZE) as pilot:
        await wait_end(replay, pilot)
        assert replay.status.lines == len(incident_log.lines)
        assert _alerted(replay) == live_alerted
        assert replay.query_one("#banner").has_class("-shown")


async def test_a_model_that_fails_to_load_still_shows_lines(incident_file: Path, incident_log: GeneratedLog,
                                                            tmp_path: Path, wait_end) -> None:
    app = LogwatchApp(PipelineConfig.build(paths=[str(incident_file)], follow=False, model_dir=str(tmp_path / "nope")))
    async with app.run_test(size=SIZE) as pilot:
        await wait_end(app, pilot)
        assert app.status.note.startswith("model not loaded") or "model not loaded" in app.status.note
        log = app.query_one("#log", LogView)
        assert len(log.rows) == len(incident_log.lines)
        assert all(x.loss is None for x in log.rows)
        assert "model not loaded" in str(app.query_one("#status").render())


async def test_hostile_lines_are_drawn_as_text(tiny_model_dir: Path, tmp_path: Path, wait_end) -> None:
    path = tmp_path / "hostile.log"
    path.write_bytes(b"INFO nova.x \x1b]0;pwned\x07 title\n\x1b[2J clear\n[bold red]markup[/]\n\xff\xfe\x00 bytes\n")
    app = LogwatchApp(PipelineConfig.build(paths=[str(path)], follow=False, model_dir=str(tiny_model_dir), device="cpu"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_end(app, pilot)
        log = app.query_one("#log", LogView)
        assert len(log.rows) == 4
        assert log.scroll_y == 0  # four rows fit: render_line(y) draws row y
        drawn = "".join(seg.text for y in range(4) for seg in log.render_line(y))
        assert "\x1b" not in drawn and "\x07" not in drawn and "\x00" not in drawn
        assert "\\x1b]0;pwned\\x07" in drawn and "[bold red]markup[/]" in drawn


async def test_scrolling_up_pauses_follow_and_counts_new_lines(fixed_recording: Path, wait_end) -> None:
    app = LogwatchApp(PipelineConfig.build(replay=str(fixed_recording), speed=0))
    app.pipeline.toggle_pause()  # paused before it starts: lines come one step at a time
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(40):
            app.pipeline.step()
        log = app.query_one("#log", LogView)
        # Every stepped line must be shown before follow is paused, or a late one would be counted
        # as new (it flaked once under load).
        await wait_until(lambda: len(log.rows) >= 40, pilot=pilot)
        shown = len(log.rows)
        assert shown == 40 and app.status.state in ("paused", "replaying")
        await pilot.press("up")
        assert not log.follow
        app.pipeline.toggle_pause()
        await wait_end(app, pilot)
        assert log.new_lines == len(log.rows) - shown > 0
        assert "new" in str(app.query_one("#status").render())
        await pilot.press("end")
        assert log.follow and log.new_lines == 0


async def test_help_screen_lists_keys(fixed_recording: Path, wait_end) -> None:
    from logwatch.tui.widgets.panels import KEYS

    app = LogwatchApp(PipelineConfig.build(replay=str(fixed_recording), speed=0))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert app.screen.__class__.__name__ == "HelpScreen"
        screen = html.unescape(app.export_screenshot()).replace("\xa0", " ")
        for key, what in KEYS:  # every key and what it does is on the screen
            assert key in screen and what[:40] in screen, (key, what)
        # and every binding a user can press is explained there
        bound = {b.key for b in app.BINDINGS if b.key not in ("ctrl+c",)}
        listed = " ".join(key for key, _ in KEYS)
        names = {"question_mark": "?", "slash": "/", "full_stop": ".", "plus": "+", "minus": "-", "space": "space"}
        assert all(names.get(key, key) in listed for key in bound), bound
        await pilot.press("escape")
        assert app.screen.__class__.__name__ != "HelpScreen"


async def test_replay_speed_stays_as_set_while_lines_arrive(fixed_recording: Path, wait_end) -> None:
    """The pipeline owns the status: a speed change is not undone by the next batch of lines."""
    import threading

    gate = threading.Event()
    app = LogwatchApp(PipelineConfig.build(replay=str(fixed_recording), speed=1.0), sleep=lambda _s: gate.wait(30))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("plus", "plus")  # 1 -> 2 -> 4
            await pilot.pause()
            assert app.status.speed == 4.0
            gate.set()  # now let the replay run to its end: many batches arrive
            await wait_end(app, pilot)
            assert app.status.lines > 100 and app.status.speed == 4.0
            assert "speed ×4" in str(app.query_one("#status").render())
    finally:
        gate.set()


async def test_themes_switch_the_ramp(fixed_recording: Path, wait_end) -> None:
    app = LogwatchApp(PipelineConfig.build(replay=str(fixed_recording), speed=0), theme="logwatch-light")
    async with app.run_test(size=SIZE) as pilot:
        await wait_end(app, pilot)
        light = app._palette
        app.theme = "logwatch-contrast"
        await pilot.pause()
        assert app._palette != light and app._palette.ramp[-1] == "#ff0000"
        app.theme = DEFAULT_THEME
        await pilot.pause()
        assert app._palette == Palette()  # what the default theme resolves to is the palette's default


async def test_first_frame_and_keys_do_not_wait_for_the_model(tiny_model_dir: Path, incident_file: Path,
                                                              monkeypatch, wait_end) -> None:
    """The engine loads on the pipeline thread: while it is still loading, the app draws and answers keys."""
    import threading

    from logwatch.core.engine import Engine

    release = threading.Event()
    real_load = Engine.load.__func__

    def slow_load(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        release.wait(30)
        return real_load(cls, *args, **kwargs)

    monkeypatch.setattr(Engine, "load", classmethod(slow_load))
    app = LogwatchApp(PipelineConfig.build(paths=[str(incident_file)], follow=False, model_dir=str(tiny_model_dir),
                                           device="cpu"))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert app.status.state == "loading model"
            assert "loading model" in str(app.query_one("#status").render())
            await pilot.press("question_mark")  # the help screen opens while the model loads
            # On a loaded machine the screen push can take a few frames.
            await wait_until(lambda: app.screen.__class__.__name__ == "HelpScreen", pilot=pilot)
            assert app.screen.__class__.__name__ == "HelpScreen"
            assert app.status.state == "loading model"  # and the model is still not there
            await pilot.press("escape")
            release.set()
            await wait_end(app, pilot, timeout=120)
            assert any(row.loss is not None for row in app.query_one("#log", LogView).rows)
    finally:
        release.set()


async def _wait_lines(app: LogwatchApp, pilot, count: int, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    assert await wait_until(lambda: app.status.lines >= count, timeout), f"only {app.status.lines} of {count} lines arrived"
    await pilot.pause()


async def test_m_marks_the_selected_alert_normal_and_later_lines_like_it_stay_quiet(
        tiny_model_dir: Path, incident_log: GeneratedLog, tmp_path: Path) -> None:
    from logwatch.core.engine import Engine
    from logwatch.core.known_normal import KnownNormal
    from logwatch.core.types import LogLine

    lines = incident_log.lines
    path = tmp_path / "followed.log"
    path.write_text("\n".join(lines) + "\n")
    store = KnownNormal.open(tmp_path / "known.json")
    app = LogwatchApp(PipelineConfig.build(paths=[str(path)], follow=True, model_dir=str(tiny_model_dir), device="cpu",
                                     known_normal=store))
    try:  # a failed assert must not leave the follow thread running (the test would hang)
        async with app.run_test(size=SIZE) as pilot:
            await _wait_lines(app, pilot, len(lines))
            log = app.query_one("#log", LogView)
            await pilot.press("home", "a", "m")
            marked = log.selected
            assert marked is not None and marked.alert
            assert store.matches(marked.text)
            saved = KnownNormal.open(tmp_path / "known.json")  # written at once, not at exit
            assert saved.matches(marked.text) and saved.marks[0].session == marked.session
            await pilot.press("enter")  # the detail panel says why such a line no longer alerts
            assert "never alert" in app.export_screenshot().replace("&#160;", " ")
            await pilot.press("escape")
            # Control: without the mark, the same lines written again alert on that pattern.
            control = Engine.load(tiny_model_dir, device="cpu").score_batch(
                [LogLine(n=i, text=t, source=str(path), arrival=0.0) for i, t in enumerate(lines * 2, 1)])
            assert any(s.alert and store.matches(s.text) for s in control[len(lines):])
            with path.open("a") as out:
                out.write("\n".join(lines) + "\n")
            await _wait_lines(app, pilot, 2 * len(lines))
            again = list(app.state.all_lines)[len(lines):]
            assert len(again) == len(lines)
            assert not any(s.alert and store.matches(s.text) for s in again)
            # m on it again takes the mark back.
            await pilot.press("m")
            assert not KnownNormal.open(tmp_path / "known.json").matches(marked.text)
            await pilot.press("q")
    finally:
        app.pipeline.stop()


async def test_session_ends_alert_a_session_that_stopped_early_and_replay_the_same(
        checked_model: Path, truncated, tmp_path: Path, wait_end) -> None:
    texts, victim = truncated
    log = tmp_path / "truncated.log"
    log.write_text("\n".join(texts) + "\n")
    rec = tmp_path / "ends.lwrec"
    plain = LogwatchApp(PipelineConfig.build(paths=[str(log)], follow=False, model_dir=str(checked_model), device="cpu"))
    async with plain.run_test(size=SIZE) as pilot:
        await wait_end(plain, pilot)
        assert victim not in _alerted(plain)  # no line of it is surprising: only its end can tell
    app = LogwatchApp(PipelineConfig.build(paths=[str(log)], follow=False, model_dir=str(checked_model), device="cpu",
                                     session_ends=True, record=str(rec)))
    async with app.run_test(size=SIZE) as pilot:
        await wait_end(app, pilot)
        await pilot.pause()
        assert victim in _alerted(app)
        last = app.state.sessions[victim].last_n
        assert any(victim in g.sessions and g.last_n == last for g in app.state.groups.groups.values())
        live = _alerted(app)
        assert "SESSION ENDED" in str(app.query_one("#banner").render())  # verdicts come last, at the input's end
        await pilot.press("q")
    header, records = read_recording(rec, ends=True)
    assert header.version == 2 and any(getattr(r, "session", None) == victim and hasattr(r, "score") for r in records)
    replay = LogwatchApp(PipelineConfig.build(replay=str(rec), speed=0))
    async with replay.run_test(size=SIZE) as pilot:
        await wait_end(replay, pilot)
        await pilot.pause()
        assert _alerted(replay) == live


async def test_session_ends_without_a_check_say_so_and_score_anyway(tiny_model_dir: Path, incident_file: Path,
                                                                    incident_log: GeneratedLog, wait_end) -> None:
    app = LogwatchApp(PipelineConfig.build(paths=[str(incident_file)], follow=False, model_dir=str(tiny_model_dir),
                                     device="cpu", session_ends=True))
    async with app.run_test(size=SIZE) as pilot:
        await wait_end(app, pilot)
        assert "session ends not judged" in app.status.note and "--session-check" in app.status.note
        assert app.status.lines == len(incident_log.lines) and incident_log.incidents[0].session in _alerted(app)


async def test_a_followed_file_that_goes_quiet_gets_its_session_verdicts(checked_model: Path, truncated,
                                                                         tmp_path: Path) -> None:
    texts, victim = truncated
    log = tmp_path / "quiet.log"
    log.write_text("\n".join(texts) + "\n")
    app = LogwatchApp(PipelineConfig.build(paths=[str(log)], follow=True, model_dir=str(checked_model), device="cpu",
                                     session_ends=True, idle_seconds=2.0))
    try:
        async with app.run_test(size=SIZE) as pilot:
            assert await wait_until(lambda: victim in _alerted(app), 120, interval=0.1), "the quiet session was never judged"
            assert app.status.state == "scoring"  # still following: it ended by going quiet
            await pilot.press("q")
    finally:
        app.pipeline.stop()


async def test_l_learns_the_log_again_and_the_recording_tells_the_replay(tiny_model_dir: Path, incident_file: Path,
                                                                        incident_log: GeneratedLog, tmp_path: Path,
                                                                        wait_end) -> None:
    from logwatch.core.learning.learn import LearnConfig

    log, rec = tmp_path / "watched.log", tmp_path / "relearned.lwrec"
    log.write_text(incident_file.read_text())
    quick = LearnConfig(token_budget=6_000, max_seconds=30, min_lines=100)
    config = PipelineConfig.build(paths=[str(log)], follow=True, model_dir=str(tiny_model_dir), device="cpu",
                            record=str(rec), learn="auto", relearn=0, learn_config=quick)
    app = LogwatchApp(config)
    said: list[str] = []
    app.notify = lambda message, **_: said.append(message)  # type: ignore[method-assign]
    total = len(incident_log.lines)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_until(lambda: app.status.lines >= total, 120), app.status
        before = app.status.threshold
        await pilot.press("L")
        assert said and said[-1].startswith("learning again"), said
        await wait_until(lambda: "learned again" in app.status.note, 120, interval=0.1)
        assert "learned again from " in app.status.note, app.status
        await pilot.pause()
        assert said[-1] == app.status.note  # said aloud too: the status bar's end is cut on narrow screens
        learned = app.status.threshold
        assert learned is not None and learned != before
        with log.open("a") as out:  # the next lines are the new model's
            out.write("\n".join(incident_log.lines[:20]) + "\n")
        await wait_until(lambda: app.status.lines >= total + 20, 120)
        await pilot.press("q")
    _header, records = read_recording(rec)
    changed = [x for x in records if x.model is not None]
    assert [x.n for x in changed] == [total + 1] and changed[0].model is not None
    assert changed[0].model.threshold == pytest.approx(learned, abs=1e-5)
    replay = LogwatchApp(PipelineConfig.build(replay=str(rec), speed=0))
    replay.notify = lambda message, **_: said.append(message)  # type: ignore[method-assign]
    async with replay.run_test(size=SIZE) as pilot:
        await wait_end(replay, pilot)
        assert replay.status.threshold == pytest.approx(learned, abs=1e-5)  # the recorded change, replayed
        await pilot.press("L")
        assert said[-1] == "a replay shows what was recorded: nothing to learn"
