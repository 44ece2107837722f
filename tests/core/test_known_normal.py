"""Lines marked normal: the store (file, patterns, errors) and what the engine does with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logwatch.core.engine import Engine
from logwatch.core.ingest import read_lines
from logwatch.core.known_normal import FORMAT, KnownNormal, KnownNormalError, default_path, open_store
from logwatch.core.masking import mask_line

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
SYNC = ("2026-11-20 10:00:01.123 2931 INFO nova.compute.manager [req-6b1c6a3e-6f43-4b5a-9d7c-2f1f0e7a9b11 - - - - -] "
        "The instance sync for host 'compute-{}' did not match. Re-created its InstanceList.")


def test_marks_are_patterns_saved_as_raw_lines_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "known.json"
    store = KnownNormal.open(path)
    assert len(store) == 0 and not path.exists()  # a missing file is an empty store
    assert store.mark(SYNC.format(3), session="req-1")
    assert not store.mark(SYNC.format(7))  # same pattern once masked: nothing new to store
    store.save()
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT and [m["text"] for m in data["lines"]] == [SYNC.format(3)]
    again = KnownNormal.open(path)
    assert again.matches(SYNC.format(12)) and mask_line(SYNC.format(5)) in again
    assert not again.matches(SYNC.replace("did not match", "matched").format(3))
    nine = mask_line(SYNC.format(9))  # what a scored line of it carries
    assert again.unmark_pattern(nine) and len(again) == 0 and not again.unmark_pattern(nine)


def test_default_path_follows_xdg_state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_path() == tmp_path / "logwatch" / "known-normal.json"
    assert open_store(None).path == default_path()
    assert open_store("NONE") is None


@pytest.mark.parametrize("content, message", [
    ("{not json", "cannot read"),
    ('{"format": "something-else", "version": 1}', "not a logwatch known-normal file"),
    (json.dumps({"format": FORMAT, "version": 99, "lines": []}), "newer logwatch"),
    (json.dumps({"format": FORMAT, "version": 1, "lines": [{"text": 5}]}), "mark 0 needs a 'text'"),
    (json.dumps({"format": FORMAT, "version": 1, "lines": {}}), "must be a list"),
])
def test_a_broken_file_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "known.json"
    path.write_text(content)
    with pytest.raises(KnownNormalError, match=message):
        KnownNormal.open(path)


def test_saving_where_it_cannot_write_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = KnownNormal.open(blocker / "known.json")  # its directory would have to be a file
    store.mark(SYNC.format(1))
    with pytest.raises(KnownNormalError, match="cannot write"):
        store.save()


@pytest.fixture(scope="module")
def host_trouble() -> list:
    return list(read_lines(str(SAMPLES / "incident_host_trouble.log")))


def _first_alerts(engine: Engine, lines: list) -> dict[str, tuple[int, float, str]]:
    out: dict[str, tuple[int, float, str]] = {}
    for scored in engine.score_batch(lines):
        if scored.alert:
            out.setdefault(scored.session, (scored.n, scored.loss or 0.0, scored.text))
    return out


def test_a_marked_false_alarm_stops_alerting_and_incidents_still_do(host_trouble: list) -> None:
    incidents = json.loads((SAMPLES / "incident_host_trouble.incidents.json").read_text())
    anomalous = {i["session"] for i in incidents}
    # Without the known-pattern margin the bundled log holds repeated false alarms (docs/EVALUATION.md §4).
    before = _first_alerts(Engine.load(None, device="cpu", known_margin=1.0), host_trouble)
    false_alarms = {s: v for s, v in before.items() if s not in anomalous}
    assert len(false_alarms) >= 2, "the bundled log should hold repeated false alarms at margin 1.0"
    # The operator marks the first false alarm's line; the others of that pattern fall silent too.
    first = min(false_alarms.values())
    store = KnownNormal.from_lines([first[2]])
    after_engine = Engine.load(None, device="cpu", known_normal=store, known_margin=1.0)
    scored = after_engine.score_batch(host_trouble)
    after = {s.session for s in scored if s.alert}
    same_pattern = {s for s, v in false_alarms.items() if store.matches(v[2])}
    assert len(same_pattern) >= 2
    assert not after & same_pattern
    assert anomalous <= after  # real incidents are not that pattern and still alert
    # Marked lines are still scored: the loss is shown, only the alert is withheld.
    assert all(s.loss is not None for s in scored if store.matches(s.text))


def test_marks_saved_by_another_process_reach_a_running_engine(tmp_path: Path, host_trouble: list) -> None:
    path = tmp_path / "known.json"
    running = KnownNormal.open(path)  # what `logwatch score --follow` holds
    engine = Engine.load(None, device="cpu", known_normal=running)
    half = len(host_trouble) // 2
    first = [s for s in engine.score_batch(host_trouble[:half]) if s.alert]
    assert first
    monitor = KnownNormal.open(path)  # the operator's monitor, another process
    for line in first:
        monitor.mark(line.text)
    monitor.save()
    later = engine.score_batch(host_trouble[half:])
    repeats = [s for s in later if monitor.matches(s.text) and (s.loss or 0) > (engine.threshold or 0)]
    assert repeats and not any(s.alert for s in repeats)  # over the threshold, yet silent
    assert len(running) == len(monitor)
    # A file broken later keeps the marks already read instead of failing the scorer.
    path.write_text("{broken")
    assert not running.refresh() and len(running) == len(monitor)


def test_a_snooze_silences_a_pattern_until_it_ends_and_is_kept_apart_from_marks(tmp_path: Path, monkeypatch) -> None:
    import json
    import time as clock

    from logwatch.core.known_normal import KnownNormal
    from logwatch.core.masking import mask_line

    store = KnownNormal.open(tmp_path / "known.json")
    line = "WARNING nova.compute.manager [instance: 1b2c3d4e-0000-4000-8000-000000000001] disk is slow"
    other = line.replace("0001]", "0002]")  # the same pattern in another instance
    assert store.mark(line, "a", seconds=60)
    assert mask_line(other) in store and store.pattern_snoozed_until(mask_line(other))
    assert not store.mark(other, seconds=60)  # already snoozed
    store.save()
    data = json.loads((tmp_path / "known.json").read_text())
    assert data["version"] == 2 and data["lines"][0]["until"]  # an older logwatch refuses it, never keeps it
    again = KnownNormal.open(tmp_path / "known.json")
    assert mask_line(other) in again
    real = clock.time
    monkeypatch.setattr("logwatch.core.known_normal.time.time", lambda: real() + 120)  # the hour passed
    assert mask_line(other) not in again  # the snooze ended by itself
    assert store.unsnooze_pattern(mask_line(other)) and not store.pattern_snoozed_until(mask_line(line))
    assert store.mark(line) and not store.mark(line, seconds=60)  # a mark for ever is not snoozed over


def test_each_marks_pattern_is_masked_once_when_it_is_read_or_made(tmp_path: Path, monkeypatch) -> None:
    """Marking, unmarking and snooze checks run on the UI thread: they compare the marks' patterns
    kept since load, not every mark's text masked again on every key press."""
    import logwatch.core.known_normal as module

    path = tmp_path / "known.json"
    writer = KnownNormal.open(path)
    for i in range(30):
        writer.mark(f"WARNING nova.x problem {'abcdefghijklmnopqrstuvwxyz'[i % 26]}{i // 26} seen")
    writer.save()
    masked: list[str] = []
    monkeypatch.setattr(module, "mask_line", lambda text: masked.append(text) or mask_line(text))
    store = KnownNormal.open(path)
    assert len(masked) == 30 and [m.pattern for m in store.marks] == [mask_line(m.text) for m in store.marks]
    masked.clear()
    pattern = store.marks[3].pattern
    assert store.is_known_pattern(pattern) and pattern in store and store.pattern_snoozed_until(pattern) is None
    assert store.unmark_pattern(pattern) and not store.unsnooze_pattern(pattern) and len(store) == 29
    assert masked == []  # a scored line's pattern needs no masking at all
    assert store.mark("WARNING nova.y new thing 5", seconds=60)
    assert masked == ["WARNING nova.y new thing 5"]  # the new example only, once
