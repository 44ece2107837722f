"""Rendering functions, without an app: escaping, colour steps, panels (filters: test_filters.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from logwatch.core.alerts import AlertGroups
from logwatch.core.types import ScoredLine
from logwatch.themes import DEFAULT_THEME, THEMES
from logwatch.tui.messages import Status
from logwatch.tui.render import (
    RAMP_STEPS,
    Palette,
    line_text,
    loss_step,
    safe_text,
    short_session,
    token_text,
    top_tokens,
)
from logwatch.tui.widgets.panels import banner_text, detail_renderable, status_text


def line(text: str = "x", **kw: object) -> ScoredLine:
    base: dict[str, object] = dict(n=1, source="s", arrival=0.0, text=text, session="sess", pattern=text)
    base.update(kw)
    return ScoredLine(**base)  # type: ignore[arg-type]


def rendered(renderable: object) -> str:
    console = Console(width=200, color_system="truecolor", force_terminal=True, record=True)
    console.print(renderable)
    return console.export_text(styles=False)


@pytest.mark.parametrize("hostile", ["\x1b]0;pwned\x07", "\x1b[2J", "a\rb", "nul\x00", "\x9b31m", "bidi\u202e", "lone\udcff"])
def test_control_sequences_become_visible_text(hostile: str) -> None:
    safe = safe_text(hostile)
    assert not re.search("[\x00-\x1f\x7f-\x9f\u202e]", safe)
    assert "\\x" in safe or "\\u" in safe


@given(st.text(max_size=300))
def test_nothing_unsafe_survives_rendering(raw: str) -> None:
    out = line_text(line(raw, loss=1.0, level="INFO", ts="2017-05-16 00:00:01.000"), 2.0, Palette())
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", out.plain)


def test_markup_is_shown_literally() -> None:
    text = line_text(line("[bold red]boom[/] [link=http://x]y[/link]"), 2.0, Palette())
    assert "[bold red]boom[/]" in text.plain and "[link=http://x]" in text.plain


def test_long_lines_are_cut() -> None:
    assert len(safe_text("x" * 1_000_000)) < 5_000


def test_loss_steps_follow_the_threshold() -> None:
    assert loss_step(None, 2.0) == 0
    assert loss_step(0.1, 2.0) == 0
    assert loss_step(1.9, 2.0) == RAMP_STEPS - 2
    assert loss_step(2.1, 2.0) == RAMP_STEPS - 1
    steps = [loss_step(x / 10, 2.0) for x in range(30)]
    assert steps == sorted(steps)


def test_alert_line_has_marker_and_alarm_colour() -> None:
    palette = Palette()
    text = line_text(line("boom", loss=9.0, alert=True, level="ERROR"), 2.0, palette)
    assert text.plain.startswith("▲")
    assert any(str(span.style).find(palette.ramp[-1].lstrip("#")) >= 0 or palette.ramp[-1] in str(span.style)
               for span in text.spans)


def test_the_default_palette_is_the_default_themes() -> None:
    assert Palette() == Palette.of(THEMES[DEFAULT_THEME])
    assert Palette(muted="#000000").ramp == Palette().ramp and Palette(muted="#000000").muted == "#000000"
    light = Palette.of(THEMES["logwatch-light"])
    assert light != Palette() and light.alert == light.ramp[-1] == "#cf222e"
    assert light.match == "#9a6700" and light.sources == ("#0969da", "#8250df", "#1b7c83", "#a0529a")


def test_tokens_are_ranked_and_coloured() -> None:
    tokens = (("INFO", 0.1), ("Ġfailed", 8.0), ("Ġto", 0.5), ("\x1b", 3.0))
    assert [p for p, _ in top_tokens(tokens, 2)] == ["Ġfailed", "\\x1b"]
    text = token_text(tokens, 2.0, Palette())
    assert " failed" in text.plain and "\x1b" not in text.plain


def test_panels_name_the_session_and_the_reason() -> None:
    alert = line("ERROR nova.virt.block_device Driver failed", session="a3e1fdcf-9137-4f03-97ce-842215e59799",
                 loss=7.5, alert=True, ts="2017-05-16 00:08:58.760", tokens=(("Driver", 6.0),))
    alert.why = ("surprise 7.50 > 2.00", "error-level")
    groups = AlertGroups()
    event = groups.add("ERROR nova.virt.block_device Driver failed", n=alert.n, ts=alert.ts, time=0.0,
                       session=alert.session, why=alert.why)
    assert event is not None
    banner = banner_text(alert, event, 3).plain
    assert "a3e1fdcf" in banner and "why: surprise 7.50 > 2.00, error-level" in banner and "00:08:58" in banner
    assert "#1" in banner and "3 alert groups" in banner
    for n, session in ((2, alert.session), (3, "other")):  # the group grows: counted in words, not "(s)"
        groups.add("ERROR nova.virt.block_device Driver failed", n=n, ts=alert.ts, time=0.0, session=session,
                   why=alert.why)
        grown = banner_text(alert, event, 3).plain
        assert ("2 lines in 1 session ·" if n == 2 else "3 lines in 2 sessions ·") in grown, grown
    detail = rendered(detail_renderable(alert, 2.0, Palette()))
    assert "a3e1fdcf-9137-4f03-97ce-842215e59799" in detail and "threshold 2.000" in detail and "Driver" in detail
    assert "marked" not in detail and "never alert" in rendered(detail_renderable(alert, 2.0, Palette(), marked=True))
    held = line("INFO dfs.DataNode Verification succeeded for blk_1", loss=5.0)
    assert "held" not in rendered(detail_renderable(held, 2.0, Palette()))
    held.order_only = True
    assert "the session check judges the session" in rendered(detail_renderable(held, 2.0, Palette()))
    status = status_text(Status(state="scoring", model="m", device="cpu", lines=10, sessions=2, queued=5),
                         alerts=1, follow=False, new_lines=7, view="all lines").plain
    assert "queue 5" in status and "+7 new" in status and "1 alerted" in status
    assert "10 lines" in status and "2 sessions" in status
    one = status_text(Status(state="scoring", model="m", device="cpu", lines=1, sessions=1),
                      alerts=0, follow=True, new_lines=0, view="all lines").plain
    assert "1 line ·" in one and "1 session ·" in one  # not "1 sessions"


def test_short_session_names() -> None:
    assert short_session("a3e1fdcf-9137-4f03-97ce-842215e59799") == "a3e1fdcf"
    assert short_session("req-8e3d4c1b-dfba-4229-a97f-2293ef7ebfbb") == "req-8e3d4c1b"
    assert short_session("blk_-123") == "blk_-123"


def test_an_alert_group_row_says_count_sessions_time_and_what() -> None:
    from logwatch.tui.widgets.sidebar import alert_row

    groups = AlertGroups()
    for n, session in enumerate(["vm1", "vm2", "vm1"], 1):
        groups.add("ERROR nova.compute.manager [<REQ>] [instance: <UUID>] Instance failed to spawn", n=n,
                   ts=f"2017-05-16 00:09:0{n}.102", time=float(n), session=session, why=("error-level",))
    head, what = alert_row(groups.groups[1]).plain.split("\n")
    assert head == "#1 3× 2 sess 00:09:03"
    assert what.strip() == "Instance failed to spawn"
