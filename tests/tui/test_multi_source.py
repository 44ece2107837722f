"""Three logs of three services, each in its own format, watched as one: one session gathers its
lines from all three in timestamp order, every line tagged with its source, and `score`, the
app (headless) and a replay of the app's recording agree line for line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from helpers import wait_until

from logwatch.cli.main import main
from logwatch.core.generator import SERVICE_FILES, generate_log, write_service_logs
from logwatch.tui.app import LogwatchApp
from logwatch.tui.filters import parse_filter
from logwatch.tui.pipeline import PipelineConfig
from logwatch.tui.render import Palette, line_text
from logwatch.tui.widgets.log_view import LogView

VM = "6f1c0a2e-8d2b-4b3e-9d55-0c2f1e7a9b10"
REQ = "req-0b8d4e1a-3c5f-4a6b-8e7d-9f0a1b2c3d4e"


def _write_services(tmp_path: Path) -> list[Path]:
    api = tmp_path / "api.log"  # JSON lines with ISO stamps in UTC
    api.write_text("\n".join(json.dumps(x) for x in (
        {"ts": "2017-05-16T00:00:01.000Z", "level": "info", "msg": f"[{REQ}] [instance: {VM}] POST /servers 202"},
        {"ts": "2017-05-16T00:00:01.500Z", "level": "info", "msg": "GET /servers/detail 200"},
        {"ts": "2017-05-16T00:00:06.000Z", "level": "info", "msg": f"[{REQ}] [instance: {VM}] DELETE 204"},
    )) + "\n")
    scheduler = tmp_path / "scheduler.log"  # Python logging: comma before the milliseconds
    scheduler.write_text(f"2017-05-16 00:00:02,000 INFO nova.scheduler [{REQ}] [instance: {VM}] Selected host cp-1\n"
                         "2017-05-16 00:00:05,500 INFO nova.scheduler Successfully synced instances\n")
    compute = tmp_path / "compute.log"  # Loghub's OpenStack shape, a traceback with no stamps, no final newline
    compute.write_text(
        f"nova-compute.log.1 2017-05-16 00:00:03.000 2931 INFO nova.compute.manager [{REQ}] [instance: {VM}] Claim "
        "successful\n"
        f"nova-compute.log.1 2017-05-16 00:00:04.000 2931 ERROR nova.compute.manager [{REQ}] [instance: {VM}] "
        "Instance failed to spawn\n"
        "Traceback (most recent call last):\n"
        f"nova-compute.log.1 2017-05-16 00:00:05.000 2931 INFO nova.compute.manager [{REQ}] [instance: {VM}] "
        "Terminating instance")
    return [api, scheduler, compute]


# The stampless traceback continues the ERROR entry above it, so it is that instance's line too.
EXPECTED = [("api", "POST"), ("scheduler", "Selected"), ("compute", "Claim"), ("compute", "failed"),
            ("compute", "Traceback"), ("compute", "Terminating"), ("api", "DELETE")]


def _story(rows: list[dict[str, object]]) -> list[tuple[str, str]]:
    """The session's lines as (service, a word of the line), in the order they came out."""
    words = {word for _, word in EXPECTED}
    out = []
    for row in rows:
        if row["session"] == VM:
            word = next(w for w in words if w in str(row["text"]))
            out.append((Path(str(row["source"])).stem, word))
    return out


def _key(row: dict[str, object]) -> tuple[object, ...]:
    return row["n"], row["source"], row["session"], row["text"], row["alert"]


async def test_one_session_across_three_services_in_score_app_and_replay(tiny_model_dir: Path, tmp_path: Path,
                                                                          wait_end) -> None:
    paths = _write_services(tmp_path)
    runner = CliRunner()
    scored = runner.invoke(main, ["score", *map(str, paths), "--model", str(tiny_model_dir), "--learn", "off"],
                           catch_exceptions=False)
    assert scored.exit_code == 0, scored.stderr
    rows = [json.loads(x) for x in scored.stdout.splitlines()]
    assert [r["n"] for r in rows] == list(range(1, 10))
    assert _story(rows) == EXPECTED  # one session, three files, in timestamp order
    traceback = next(i for i, r in enumerate(rows) if r["text"].startswith("Traceback"))
    assert "failed to spawn" in rows[traceback - 1]["text"]  # a stampless line stays after its own
    assert {r["session"] for r in rows if "synced" in r["text"]} == {"<unkeyed:scheduler.log>"}

    rec = tmp_path / "live.lwrec"
    app = LogwatchApp(PipelineConfig.build(paths=[str(p) for p in paths], follow=False, model_dir=str(tiny_model_dir),
                                     device="cpu", record=str(rec)))
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_end(app, pilot)
        log = app.query_one("#log", LogView)
        shown = [{"n": x.n, "source": x.source, "session": x.session, "text": x.text, "alert": x.alert, "loss": x.loss}
                 for x in log.rows]
        assert [_key(r) for r in shown] == [_key(r) for r in rows]
        assert [round(r["loss"], 4) for r in shown] == [r["loss"] for r in rows]  # JSON keeps 4 decimals
        assert set(log.sources) == {str(p) for p in paths}  # three logs seen: the tag column is drawn
        screen = app.export_screenshot()
        assert "scheduler" in screen and "compute" in screen
        app.show_view(VM)
        await pilot.pause()
        assert (Path(log.rows[0].source).stem, log.rows[0].n) == ("api", 1)
        assert len({x.source for x in log.rows}) == 3
        await pilot.press("f", *"source:compute", "enter")
        assert log.rows and all(x.source.endswith("compute.log") for x in log.rows)
        await pilot.press("q")

    replayed = runner.invoke(main, ["score", "--replay", str(rec)], catch_exceptions=False)
    assert replayed.exit_code == 0, replayed.stderr
    assert [_key(json.loads(x)) for x in replayed.stdout.splitlines()] == [_key(r) for r in rows]


def test_the_source_column_and_filter_only_when_logs_are_several() -> None:
    from logwatch.core.types import ScoredLine

    line = ScoredLine(n=1, source="/var/log/nova/nova-compute.log", arrival=0.0, text="INFO x", session="s",
                      pattern="INFO x", loss=0.1)
    palette = Palette()
    assert "nova-compute" not in line_text(line, 1.0, palette).plain
    tagged = line_text(line, 1.0, palette, source=1)
    assert "nova-compute" in tagged.plain
    assert any(str(span.style.color.name) == palette.sources[1] for span in tagged.spans  # type: ignore[union-attr]
               if span.style and not isinstance(span.style, str) and span.style.color)
    assert parse_filter("source:COMPUTE")(line) and not parse_filter("source:api")(line)
    assert not parse_filter("!source:compute")(line) and parse_filter("source:api source:compute")(line)


def test_the_multi_service_sample_alerts_in_the_sessions_that_cross_files(tmp_path: Path) -> None:
    """The generator writes one run as nova-api, nova-scheduler and nova-compute logs; scored
    together with the bundled model, each incident opens one alert group at its first line, the
    no-valid-host failure in sessions that span two files, and nothing else alerts."""
    written = write_service_logs(tmp_path)
    assert sorted(p.name for p in written) == sorted(SERVICE_FILES.values())
    truth = json.loads((tmp_path / "services" / "incidents.json").read_text())
    result = CliRunner().invoke(main, ["score", *map(str, written), "--learn", "off", "--alerts"],
                                catch_exceptions=False)
    events = [json.loads(x) for x in result.stdout.splitlines()]
    opened = [e for e in events if e["alert"] == "open"]
    assert sorted(e["first_n"] for e in opened) == sorted(i["first_line"] for i in truth)
    assert {s for e in opened for s in e["sessions"]} == {i["session"] for i in truth}
    rows = [json.loads(x) for x in CliRunner().invoke(main, ["score", *map(str, written), "--learn", "off"]).stdout
            .splitlines()]
    crossing = [i["session"] for i in truth if i["kind"] == "no_valid_host"]
    for session in crossing:
        mine = [r for r in rows if r["session"] == session]
        assert len({r["source"] for r in mine}) == 2 and any(r["alert"] for r in mine)
    one_file = generate_log(seed=5, n_instances=120, incidents=("volume_attach", "no_valid_host"))
    assert sorted(r["text"] for r in rows) == sorted(one_file.lines)


async def test_the_monitor_names_a_missing_log_watches_the_others_and_reads_it_once_it_appears(
        tiny_model_dir: Path, tmp_path: Path) -> None:
    from logwatch.cli.common import resolve_inputs

    good = tmp_path / "good.log"
    good.write_text("2017-05-16 00:00:01,000 INFO g1\n")
    late = tmp_path / "late.log"
    inputs, patterns, problems = resolve_inputs((str(good), str(late), str(tmp_path)), follow=True, strict=False)
    assert inputs == [str(good), str(late)] and patterns == []  # the directory is left out, the missing file waited for
    assert len(problems) == 2 and "late.log" in problems[0] and "appears" in problems[0] and "directory" in problems[1]
    app = LogwatchApp(PipelineConfig.build(paths=inputs, problems=problems, follow=True, model_dir=str(tiny_model_dir),
                                     device="cpu"))
    async with app.run_test(size=(140, 30)) as pilot:
        log = app.query_one("#log", LogView)

        async def until(cond) -> None:  # type: ignore[no-untyped-def]
            assert await wait_until(cond), f"timed out: {app.status}"

        await until(lambda: len(log.rows) == 1)
        assert "directory" in app.status.warning or "late.log" in app.status.warning
        late.write_text("2017-05-16 00:00:02,000 INFO l1\n")
        await until(lambda: len(log.rows) == 2)
        assert [Path(x.source).name for x in log.rows] == ["good.log", "late.log"]
        await pilot.press("q")
