"""SVG snapshots of the main screen, an alert, the detail panel and a filter.

Driven by a recording with fixed losses and a frozen clock so every machine draws the same
screen. Update after a deliberate UI change with ``pytest tests/tui --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from logwatch.tui.app import LogwatchApp
from logwatch.tui.pipeline import PipelineConfig

from conftest import wait_for_end  # noqa: E402  (tests/tui/conftest.py)

SIZE = (150, 40)


def _app(recording: Path) -> LogwatchApp:
    return LogwatchApp(PipelineConfig(replay=str(recording), speed=0), clock=lambda: 0.0, sleep=lambda _s: None)


async def _finished(pilot) -> None:  # type: ignore[no-untyped-def]
    await wait_for_end(pilot.app, pilot)


@pytest.mark.parametrize("name, keys", [
    ("main", ()),
    ("alert", ("home", "a")),
    ("detail", ("home", "a", "enter")),
    ("filter", ("f", *"level:WARNING+", "enter")),
])
def test_snapshot(snap_compare, fixed_recording: Path, name: str, keys: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(_app(fixed_recording), press=keys, terminal_size=SIZE, run_before=_finished)
