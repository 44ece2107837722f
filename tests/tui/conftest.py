"""Recordings for driving the app: one scored by a real tiny model, one with fixed losses for
snapshots (identical on every machine)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import wait_until

from logwatch.core.generator import GeneratedLog, generate_log
from logwatch.core.masking import mask_line
from logwatch.core.record import RecordingWriter
from logwatch.core.sessions import SessionKeyer
from logwatch.core.types import ScoredLine
from logwatch.tui.app import LogwatchApp


@pytest.fixture(scope="session")
def incident_log() -> GeneratedLog:
    return generate_log(seed=21, n_instances=14, incidents=("volume_attach",))


@pytest.fixture(scope="session")
def incident_file(tmp_path_factory: pytest.TempPathFactory, incident_log: GeneratedLog) -> Path:
    path = tmp_path_factory.mktemp("tui") / "incident.log"
    path.write_text("\n".join(incident_log.lines) + "\n")
    return path


@pytest.fixture(scope="session")
def fixed_recording(tmp_path_factory: pytest.TempPathFactory, incident_log: GeneratedLog) -> Path:
    """The incident log with losses fixed by rule (snapshot tests need byte-identical screens)."""
    keyer = SessionKeyer(None)
    incident = incident_log.incidents[0]
    lines = []
    for n, text in enumerate(incident_log.lines, 1):
        session = keyer.key(text, "incident.log")
        bad = session == incident.session and n >= incident.first_line
        loss = 6.5 if bad else 0.15 + (len(text) % 9) * 0.12
        level = "ERROR" if " ERROR " in text else "WARNING" if " WARNING " in text else "INFO"
        lines.append(ScoredLine(n=n, source="incident.log", arrival=1_700_000_000 + n * 0.01, text=text,
                                session=session, pattern=mask_line(text),
                                ts=text.split(" ", 3)[1] + " " + text.split(" ", 3)[2],
                                level=level, loss=loss, alert=bad,
                                tokens=(("ERROR" if bad else "INFO", loss), (" nova", 0.1))))
    path = tmp_path_factory.mktemp("rec") / "fixed.lwrec"
    with RecordingWriter(path, model="fixed-losses", threshold=2.0) as writer:
        writer.write(lines)
    return path


async def wait_for_end(app: LogwatchApp, pilot, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    """Let the pipeline run until its input ended (real time: the model runs on a thread)."""
    if not await wait_until(lambda: app.status.state in ("input ended", "stopped"), timeout):
        raise AssertionError(f"pipeline did not finish: {app.status}")
    await pilot.pause()
    app.refresh_sidebar()
    await pilot.pause()


@pytest.fixture
def wait_end():  # type: ignore[no-untyped-def]
    """The :func:`wait_for_end` helper, as a fixture (test modules here are not a package)."""
    return wait_for_end
