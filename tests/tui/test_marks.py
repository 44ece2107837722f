"""The mark keys: the plain functions, and M pressed in the app on a replayed incident."""

from __future__ import annotations

from pathlib import Path

from logwatch.core.known_normal import KnownNormal
from logwatch.core.masking import mask_line
from logwatch.core.types import ScoredLine
from logwatch.tui.app import LogwatchApp
from logwatch.tui.marks import mark_session, toggle_line
from logwatch.tui.pipeline import PipelineConfig
from logwatch.tui.widgets.log_view import LogView


def line(n: int, text: str, loss: float, session: str = "req-1") -> ScoredLine:
    return ScoredLine(n=n, source="x.log", arrival=0.0, text=text, session=session, pattern=mask_line(text), loss=loss)


def test_toggle_line_marks_then_unmarks() -> None:
    store = KnownNormal.from_lines([])
    first = line(1, "INFO nova.compute Took 12.5 seconds to spawn", 3.0)
    assert toggle_line(store, first).startswith("marked normal") and store.matches("INFO nova.compute Took 7 seconds to spawn")
    assert "replay" in toggle_line(KnownNormal.from_lines([]), first, replaying=True)
    assert toggle_line(store, first).startswith("unmarked") and len(store) == 0


def test_the_keys_check_the_pattern_a_scored_line_carries() -> None:
    """m and z judge a scored line by the pattern the engine gave it, never by masking its text again."""
    from dataclasses import replace

    from logwatch.tui.marks import toggle_snooze

    store = KnownNormal.from_lines(["WARNING nova.compute disk 3 slow"])
    marked = mask_line("WARNING nova.compute disk 3 slow")
    # Text that masks to something else entirely, carrying the marked pattern: it is that pattern's line.
    carrier = replace(line(1, "INFO an unrelated line", 3.0), pattern=marked)
    assert store.is_known_pattern(carrier.pattern) and not store.matches(carrier.text)
    assert toggle_snooze(store, carrier).startswith("lines like this are marked normal already")
    assert toggle_line(store, carrier).startswith("unmarked") and len(store) == 0
    # The very text of the mark, carrying another pattern: judged by that pattern, not marked.
    store = KnownNormal.from_lines(["WARNING nova.compute disk 3 slow"])
    stranger = replace(line(2, "WARNING nova.compute disk 3 slow", 3.0), pattern="another pattern")
    assert store.matches(stranger.text) and not store.is_known_pattern(stranger.pattern)


def test_mark_session_takes_every_line_over_the_threshold() -> None:
    store = KnownNormal.from_lines([])
    lines = [line(1, "INFO a routine start", 0.2), line(2, "WARNING b replicate block 7", 4.0),
             line(3, "WARNING b replicate block 9", 4.5), line(4, "INFO c transfer done", 3.1)]
    message = mark_session(store, lines[1], lines, threshold=1.0)
    assert "2 new pattern(s) of 3 surprising" in message
    assert store.matches("INFO c transfer done") and not store.matches("INFO a routine start")
    # With no threshold known (a model not loaded), only the selected line is marked.
    other = KnownNormal.from_lines([])
    mark_session(other, lines[0], lines, threshold=None)
    assert other.patterns == KnownNormal.from_lines([lines[0].text]).patterns


async def test_shift_m_in_the_app_marks_the_alerted_session(fixed_recording: Path, tmp_path: Path, wait_end) -> None:
    store = KnownNormal.open(tmp_path / "known.json")
    app = LogwatchApp(PipelineConfig.build(replay=str(fixed_recording), speed=0, known_normal=store))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_end(app, pilot)
        await pilot.press("home", "a", "M")
        selected = app.query_one("#log", LogView).selected
        assert selected is not None and selected.alert
        over = [x for x in app.state.sessions[selected.session].lines if x.loss is not None and x.loss > app.status.threshold]
        saved = KnownNormal.open(tmp_path / "known.json")
        assert len(over) > 1 and all(saved.matches(x.text) for x in over)
        assert len(saved) == len(KnownNormal.from_lines([x.text for x in over]))  # nothing else was marked
