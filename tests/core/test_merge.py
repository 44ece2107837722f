"""Several logs as one timeline (core/timeline.py, core/merge.py): history merged by the lines'
own timestamps, new lines by arrival, globs matched again, failures of one input told apart."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path

from helpers import shared_data, wait_for

from logwatch.core.merge import expand_inputs
from logwatch.core.stream import LineSource
from logwatch.core.timeline import merge_by_time, source_tag, timestamp_key
from logwatch.core.types import LogLine


def _utc(*parts: int) -> float:
    return datetime(*parts, tzinfo=timezone.utc).timestamp()


def test_timestamps_of_every_shape_logwatch_parses_become_utc_seconds() -> None:
    assert timestamp_key("2017-05-16 00:00:01.500") == _utc(2017, 5, 16, 0, 0, 1) + 0.5
    assert timestamp_key("2017-05-16T00:00:01.5Z") == _utc(2017, 5, 16, 0, 0, 1) + 0.5
    assert timestamp_key("2017-05-16T02:00:01+02:00") == _utc(2017, 5, 16, 0, 0, 1)
    assert timestamp_key("2024-01-02 03:04:05,678") == _utc(2024, 1, 2, 3, 4, 5) + 0.678
    assert timestamp_key("081109 203615") == _utc(2008, 11, 9, 20, 36, 15)  # HDFS
    assert timestamp_key("2005-06-03-15.42.50.675872") == _utc(2005, 6, 3, 15, 42, 50) + 0.675872  # BGL
    assert timestamp_key("Jun  9 06:06:20", year=2020) == _utc(2020, 6, 9, 6, 6, 20)  # syslog: no year
    assert timestamp_key("1716000000.25") == 1716000000.25  # epoch seconds in a JSON field
    for junk in (None, "", "yesterday", "[/]", "2017-13-45 99:99:99", "\x1b[2J"):
        assert timestamp_key(junk) is None


def _lines(source: str, texts: list[str]) -> list[LogLine]:
    return [LogLine(n=i, text=t, source=source, arrival=0.0) for i, t in enumerate(texts, 1)]


def test_logs_interleave_by_time_and_each_keeps_its_own_order() -> None:
    api = _lines("api.log", ['{"ts": "2017-05-16T00:00:01Z", "level": "info", "msg": "a1"}',
                             '{"ts": "2017-05-16T00:00:04Z", "level": "info", "msg": "a2"}'])
    compute = _lines("compute.log", ["2017-05-16 00:00:02.000 1 ERROR nova.compute.manager c1 failed",
                                     "Traceback (most recent call last):",  # no stamp: stays after c1
                                     "2017-05-16 00:00:00.500 1 INFO nova.compute.manager c2 clock stepped back",
                                     "2017-05-16 00:00:05.000 1 INFO nova.compute.manager c3"])
    sched = _lines("sched.log", ["2017-05-16 00:00:03,000 INFO s1", "2017-05-16 00:00:04,000 INFO s2 tie"])
    merged = [line.text.split()[-1] if "{" not in line.text else line.text[-4:-2]
              for line in merge_by_time([api, compute, sched])]
    # c2's clock went back: it stays after its file's earlier lines rather than jumping ahead
    assert merged == ["a1", "failed", "last):", "back", "s1", "a2", "tie", "c3"]


def test_a_log_without_any_timestamp_keeps_its_head_first() -> None:
    plain = _lines("plain.log", ["no stamp here", "nor here"])
    stamped = _lines("s.log", ["2017-05-16 00:00:03,000 INFO s1"])
    assert [x.text for x in merge_by_time([stamped, plain])] == ["no stamp here", "nor here",
                                                                 "2017-05-16 00:00:03,000 INFO s1"]


def test_source_tags_are_short_file_names() -> None:
    assert source_tag("/var/log/nova/nova-api.log") == "nova-api"
    assert source_tag("-") == "stdin"
    assert source_tag("syslog") == "syslog"
    assert source_tag(".log") == ".log"


def _read_all(source: LineSource) -> list[LogLine]:
    out: list[LogLine] = []
    while True:
        batch = source.take(timeout=5.0)
        if batch is None:
            return out
        out.extend(batch)


def test_three_files_come_out_as_one_numbered_timeline(tmp_path: Path) -> None:
    a = tmp_path / "a.log"
    b = tmp_path / "b.log"
    c = tmp_path / "c.log"
    a.write_text("2017-05-16 00:00:01,000 INFO a1\n2017-05-16 00:00:04,000 INFO a2\n")
    b.write_text("2017-05-16 00:00:02,000 INFO b1\n2017-05-16 00:00:05,000 INFO b2")  # no final newline
    c.write_text("2017-05-16 00:00:03,000 INFO c1\n")
    with LineSource([str(a), str(b), str(c)]) as source:
        lines = _read_all(source)
    assert [x.text[-2:] for x in lines] == ["a1", "b1", "c1", "a2", "b2"]
    assert [x.n for x in lines] == [1, 2, 3, 4, 5]
    assert [Path(x.source).name for x in lines] == ["a.log", "b.log", "c.log", "a.log", "b.log"]
    assert not source.take_problems() and not source.can_pause


def test_a_file_that_cannot_be_read_is_told_and_the_others_are_read(tmp_path: Path) -> None:
    good = tmp_path / "good.log"
    good.write_text("one\ntwo\n")
    with LineSource([str(tmp_path / "gone.log"), str(good), str(tmp_path)]) as source:
        lines = _read_all(source)
        problems = source.take_problems()
    assert [x.text for x in lines] == ["one", "two"]
    assert any("gone.log" in p for p in problems) and any("directory" in p for p in problems)
    assert source.error is None and not source.take_problems()  # each told once


def test_no_readable_input_at_all_is_an_error(tmp_path: Path) -> None:
    with LineSource([str(tmp_path / "x.log"), str(tmp_path / "y.log")]) as source:
        assert wait_for(lambda: not source.alive)
        assert source.error == "none of the inputs can be read" and source.take(timeout=0.01) == []
        assert len(source.take_problems()) == 2


def test_following_merges_history_then_takes_new_lines_and_new_files(tmp_path: Path) -> None:
    a = tmp_path / "a.log"
    b = tmp_path / "b.log"
    a.write_text("2017-05-16 00:00:02,000 INFO a1\n")
    b.write_text("2017-05-16 00:00:01,000 INFO b1\n")
    got: list[LogLine] = []

    def more() -> bool:
        batch = source.take(timeout=0.05)
        got.extend(batch or [])
        return False

    # the glob matches the recording and the rotated a.log.1 too
    with LineSource([str(a), str(b)], follow=True, patterns=[str(tmp_path / "*")]) as source:
        assert wait_for(lambda: more() or len(got) >= 2)
        assert [x.text[-2:] for x in got] == ["b1", "a1"]  # history: by time
        with a.open("a") as f:
            f.write("2017-05-16 00:00:00,000 INFO a2 (an old stamp, but it arrived now)\n")
        assert wait_for(lambda: more() or len(got) >= 3)
        (tmp_path / "c.log").write_text("2017-05-16 00:00:09,000 INFO c1\n")  # a log that appears later
        (tmp_path / "old.lwrec").write_text('{"format": "logwatch-recording"}\n')  # never read as a log
        assert wait_for(lambda: more() or len(got) >= 4)
        os.rename(a, tmp_path / "a.log.1")  # rotation: the glob must not read a.log again
        a.write_text("2017-05-16 00:00:10,000 INFO a3\n")
        assert wait_for(lambda: more() or len(got) >= 5)
        more()
    assert [x.text.split()[3] for x in got] == ["b1", "a1", "a2", "c1", "a3"]
    assert [x.n for x in got] == [1, 2, 3, 4, 5]


def test_inputs_are_expanded_once_each_and_never_the_recording(tmp_path: Path) -> None:
    for name in ("a.log", "b.log", "rec.log", "x.lwrec"):
        (tmp_path / name).write_text("x\n")
    os.symlink(tmp_path / "a.log", tmp_path / "link.log")
    paths, patterns = expand_inputs([str(tmp_path / "a.log"), str(tmp_path / "*.log"), str(tmp_path / "*")],
                                    exclude=[str(tmp_path / "rec.log")])
    assert [Path(p).name for p in paths] == ["a.log", "b.log"]
    assert patterns == [str(tmp_path / "*.log"), str(tmp_path / "*")]
    assert expand_inputs(["-", "-"]) == (["-"], [])


def test_loghub_openstack_split_by_service_merges_back_into_its_own_order(tmp_path: Path) -> None:
    """Real lines: Loghub's OpenStack_2k interleaves nova-api, nova-compute and nova-scheduler.
    Split into one file per service and merged again, every line comes back once, in time order,
    and in the original order except where two services logged in the same millisecond."""
    original = shared_data("openstack/loghub_2k/OpenStack_2k.log").read_text().splitlines()
    files: dict[str, list[str]] = {}
    for line in original:
        files.setdefault(line.split(".log", 1)[0], []).append(line)
    paths = []
    for service, lines in files.items():
        path = tmp_path / f"{service}.log"
        path.write_text("\n".join(lines) + "\n")
        paths.append(str(path))
    assert len(paths) == 3
    with LineSource(paths) as source:
        merged = [x.text for x in _read_all(source)]
    assert sorted(merged) == sorted(original)
    stamps = [timestamp_key(" ".join(x.split()[1:3])) for x in merged]
    assert all(s is not None for s in stamps) and stamps == sorted(stamps)  # type: ignore[type-var]
    moved = [i for i, (x, y) in enumerate(zip(merged, original)) if x != y]
    assert all(stamps[i] in (stamps[i - 1], stamps[min(i + 1, len(stamps) - 1)]) for i in moved)
    assert len(moved) < 10


def test_a_glob_past_the_cap_is_cut_once_and_never_announced_again(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The monitor's inputs: 300 files match, the first 256 are watched and one problem says how
    many were left out; matching the glob again (every second) announces nothing more, and a
    file that appears later past the cap is told once, however many follow it."""
    from logwatch.cli.common import resolve_inputs
    from logwatch.core import merge

    monkeypatch.setattr(merge, "GLOB_SECONDS", 0.05)
    for i in range(300):
        (tmp_path / f"s{i:03d}.log").write_text(f"2017-05-16 00:00:01,000 INFO line of {i}\n")
    inputs, patterns, problems = resolve_inputs((str(tmp_path / "*.log"),), follow=True, strict=False)
    assert len(inputs) == merge.MAX_FILES == 256 and Path(inputs[-1]).name == "s255.log"
    assert len(problems) == 1 and "300" in problems[0] and "44 left out" in problems[0], problems
    got: list[LogLine] = []
    told: list[str] = []

    def more() -> bool:
        got.extend(source.take(timeout=0.05) or [])
        told.extend(source.take_problems())
        return False

    with LineSource(inputs, follow=True, patterns=patterns) as source:
        assert wait_for(lambda: more() or len(got) >= 256)
        time.sleep(0.5)  # ten rounds of matching the glob again
        more()
        assert told == [] and len(got) == 256
        for name in ("z1.log", "z2.log"):
            (tmp_path / name).write_text("2017-05-16 00:00:02,000 INFO late\n")
        assert wait_for(lambda: more() or bool(told))
        time.sleep(0.3)
        more()
    assert len(told) == 1 and "z1.log" in told[0] and len(got) == 256, told


def test_a_reader_given_more_files_than_the_cap_says_so_once(tmp_path: Path) -> None:
    paths = []
    for i in range(260):
        (tmp_path / f"s{i:03d}.log").write_text(f"2017-05-16 00:00:01,000 INFO line of {i}\n")
        paths.append(str(tmp_path / f"s{i:03d}.log"))
    with LineSource(paths) as source:
        lines = _read_all(source)
        problems = source.take_problems()
    assert len(lines) == 256 and len(problems) == 1 and "s256.log" in problems[0], problems


def test_many_unreadable_matches_are_told_in_a_few_problems(tmp_path: Path) -> None:
    """Each problem is a toast in the monitor: a glob over hundreds of broken links says a few and counts the rest."""
    from logwatch.cli.common import MOST_PROBLEMS, resolve_inputs

    (tmp_path / "ok.log").write_text("x\n")
    for i in range(40):
        os.symlink(tmp_path / f"gone{i}", tmp_path / f"b{i:02d}.log")
    inputs, _, problems = resolve_inputs((str(tmp_path / "*.log"),), follow=True, strict=False)
    assert [Path(p).name for p in inputs] == ["ok.log"]
    assert len(problems) == MOST_PROBLEMS and problems[-1].startswith("… and 36 more"), problems
