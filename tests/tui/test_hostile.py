"""Untrusted values in every field a line or a recording can carry reach the screen as text.

Structured, not only raw: JSON fields (timestamp, level, message, request id), session keys,
recorded losses (NaN, inf). Every display function is fed them and rendered through Rich, and
the app runs on a file of them; nothing may raise and no control character may reach the
terminal.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections import deque
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from logwatch.core.alerts import AlertGroups
from logwatch.core.engine import Engine
from logwatch.core.types import LogLine, ScoredLine, SessionEnd
from logwatch.tui.app import LogwatchApp
from logwatch.tui.messages import Status
from logwatch.tui.pipeline import PipelineConfig
from logwatch.tui.render import Palette, line_text
from logwatch.tui.state import SessionView
from logwatch.tui.widgets.panels import banner_text, detail_renderable, status_text
from logwatch.tui.widgets.sidebar import alert_row, session_row

#: Anything a terminal would act on: C0 (but newline) and C1 controls, DEL.
TERMINAL_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")

#: Markup and escape shapes that broke the app before, mixed into arbitrary text.
NASTY = st.sampled_from(["[/]", "[bold red]", "[/bold]", "[link=x]", "\x1b[2J", "\x1b]2;X\x07", "\x9b2J", "\ud800",
                         "\u202e", "\x00", "]", "[", "\\", "\n", "NaN", "é"])
HOSTILE = st.lists(st.one_of(NASTY, st.text(max_size=8)), max_size=6).map("".join)


def _drawn(*renderables: object) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None, force_terminal=False, legacy_windows=False)
    for renderable in renderables:
        console.print(renderable)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert not TERMINAL_CONTROL.search(out), repr(out)
    return out


@settings(max_examples=60, deadline=None)
@given(ts=HOSTILE, level=HOSTILE, msg=HOSTILE, req=HOSTILE, depth=st.integers(0, 3))
def test_hostile_json_fields_parse_score_and_draw_as_text(ts: str, level: str, msg: str, req: str,
                                                           depth: int) -> None:
    obj: object = {"ts": ts, "level": level, "msg": msg, "request_id": f"req-{req}"}
    for _ in range(depth):
        obj = {"nested": obj, "level": level}
    text = json.dumps(obj)
    engine = Engine.unscored()
    [line] = engine.score_batch([LogLine(n=1, text=text, source=f"{req}.log", arrival=0.0)])
    assert line.level is None or line.level.isalpha()  # a level is a word, never a control sequence
    json.dumps(line.to_json_dict(), ensure_ascii=False).encode("utf-8")  # no surrogate reaches the output
    line.loss, line.alert, line.why = 9.0, True, ("surprise 9.00 > 1.50", f"new-pattern {msg}")
    event = AlertGroups().add(msg, n=1, ts=line.ts, time=0.0, session=line.session, why=line.why)
    assert event is not None
    view = SessionView(key=line.session, lines=deque([line]), losses=deque([9.0]), alerted=True)
    _drawn(line_text(line, 1.5, Palette(), show_session=True), detail_renderable(line, 1.5, Palette()),
           banner_text(line, event, 2, SessionEnd(line.session, 1, 1, 3.0, 1.0, True)), session_row(view),
           alert_row(event.group), status_text(Status(state="scoring", model=msg, note=ts, learning=level),
                                                alerts=1, follow=True, new_lines=0, view=req))


@settings(max_examples=30, deadline=None)
@given(text=HOSTILE, session=HOSTILE, level=HOSTILE, loss=st.sampled_from([math.nan, math.inf, -math.inf, 1e308, 0.0]),
       threshold=st.sampled_from([None, math.nan, math.inf, 0.0, 1.5]))
def test_recorded_values_draw_whatever_they_hold(text: str, session: str, level: str, loss: float,
                                                 threshold: float | None) -> None:
    """A recording is read back as stored: the reader refuses NaN, but the drawing must not rely on it."""
    line = ScoredLine(n=1, source="r", arrival=0.0, text=text, session=session, pattern=text, ts=text, level=level, loss=loss,
                      alert=True, tokens=((text, loss),), why=(text,))
    _drawn(line_text(line, threshold, Palette(), show_session=True), detail_renderable(line, threshold, Palette()))


async def test_the_app_shows_markup_shaped_fields_keys_and_file_names(tiny_model_dir: Path, tmp_path: Path,
                                                                      wait_end) -> None:
    path = tmp_path / "[red]x[bold].log"
    path.write_text('{"ts": "[/]", "level": "error", "msg": "boom [/] \\u001b[2J", "request_id": "req-[/]"}\n'
                    '{"level": "\\u001b]2;X\\u0007", "msg": "title", "request_id": "req-[admin]"}\n'
                    '{"ts": "\\ud800", "level": "\\udc00", "msg": "surrogates"}\n'
                    '\n'
                    'INFO nova.compute [req-[bold]] started\n')
    app = LogwatchApp(PipelineConfig.build(paths=[str(path)], follow=False, model_dir=str(tiny_model_dir), device="cpu",
                                     learn="off", session_regex=r'"request_id": "([^"]+)"'))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_end(app, pilot)
        assert app.state.sessions, "no session listed"
        assert {"req-[/]", "req-[admin]"} <= set(app.state.sessions)  # keys kept as written, not eaten as markup
        await pilot.press("tab", "down", "enter")  # open the detail panel on a hostile line
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        screen = "".join(str(w.render()) for w in app.screen.query("Static"))
        assert not TERMINAL_CONTROL.search(screen.replace("\n", ""))
    assert app.return_code in (0, None)


@settings(max_examples=12, deadline=None)
@given(rows=st.lists(st.tuples(HOSTILE, HOSTILE, HOSTILE, HOSTILE), min_size=1, max_size=6),
       name=st.sampled_from(["[red]x", "a\u202eb", "plain", "\u009bz"]))
def test_score_prints_one_json_row_per_hostile_line(tiny_model_dir: Path, tmp_path_factory, rows, name) -> None:  # type: ignore[no-untyped-def]
    """``score`` end to end (in process) on generated hostile JSON lines: valid JSON, terminal-safe."""
    from click.testing import CliRunner

    from logwatch.cli.main import main

    path = tmp_path_factory.mktemp("h") / f"{name}.log"
    # Raw characters where JSON allows them (C1, bidi, lone surrogates as invalid UTF-8 bytes).
    lines = [json.dumps({"ts": ts, "level": level, "msg": msg, "request_id": f"req-{req}"}, ensure_ascii=False)
             for ts, level, msg, req in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))
    result = CliRunner().invoke(main, ["score", str(path), "--model", str(tiny_model_dir), "--learn", "off",
                                       "--session-regex", '"request_id": "(req-[^"]*)"'], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert len(out) == len(rows)
    assert not TERMINAL_CONTROL.search(result.stdout.replace("\n", ""))
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", result.stdout)
    decoded = [json.loads(row) for row in out]
    assert [d["n"] for d in decoded] == list(range(1, len(rows) + 1))
    for d, line in zip(decoded, lines):
        if not re.search("[\ud800-\udfff]", line):
            assert d["text"] == line  # the raw text survives, escaped in the output


async def test_a_toast_never_carries_a_file_names_escape_sequence(tiny_model_dir: Path, tmp_path: Path,
                                                                  wait_end) -> None:
    """A glob matching a file that cannot be read: the monitor says so in a toast, escaped (an OSC
    title sequence in the name once set the terminal pane's title)."""
    import os

    from logwatch.cli.common import resolve_inputs

    (tmp_path / "ok.log").write_text("INFO nova.compute plain line\n")
    os.symlink(tmp_path / "nowhere", tmp_path / "\x1b]2;PWNED\x07.log")
    inputs, patterns, problems = resolve_inputs((str(tmp_path / "*.log"),), follow=True, strict=False)
    app = LogwatchApp(PipelineConfig.build(paths=inputs, patterns=patterns, problems=problems, follow=False,
                                           model_dir=str(tiny_model_dir), device="cpu", learn="off"))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_end(app, pilot)
        app.notify(f"directly: {problems[0]}", title="\x9b2J")
        await pilot.pause()
        toasts = [(n.title, n.message) for n in app._notifications]
    assert len(toasts) == 2, toasts
    for title, message in toasts:
        assert not TERMINAL_CONTROL.search(title + message) and "\\x1b]2;PWNED\\x07" in message, toasts
