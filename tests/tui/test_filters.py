"""The filter bar's and the search box's language, without an app (or textual, or rich)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from logwatch.core.types import ScoredLine
from logwatch.tui.filters import FilterError, parse_filter, search_pattern


def line(text: str = "x", **kw: object) -> ScoredLine:
    base: dict[str, object] = dict(n=1, source="s", arrival=0.0, text=text, session="sess", pattern=text)
    base.update(kw)
    return ScoredLine(**base)  # type: ignore[arg-type]


def test_the_language_loads_neither_textual_nor_rich() -> None:
    code = "import sys, logwatch.tui.filters; print(' '.join(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "logwatch.tui.filters" in loaded
    assert not [m for m in loaded if m.split(".")[0] in ("textual", "rich")]


def test_filters() -> None:
    err = line("Driver failed to attach volume", level="ERROR", loss=7.0)
    info = line("Claim successful", level="INFO", loss=0.2)
    warn = line("Unknown base file", level="WARNING", loss=1.0)
    assert parse_filter("level:ERROR")(err) and not parse_filter("level:ERROR")(info)
    assert parse_filter("level:WARNING+")(warn) and parse_filter("level:warn+")(err)
    assert not parse_filter("level:WARNING+")(info)
    assert parse_filter("loss>2")(err) and not parse_filter("loss>2")(warn)
    assert parse_filter("!claim")(err) and not parse_filter("!claim")(info)
    assert parse_filter("/attach\\s+volume/")(err) and not parse_filter("/attach\\s+volume/")(info)
    assert parse_filter('"base file" level:WARNING')(warn)
    # Level names other logs use are rungs of the same ladder the alert rule climbs.
    fatal, severe = line("Instance crashed", level="FATAL"), line("Machine check", level="SEVERE")
    assert parse_filter("level:fatal")(fatal) and parse_filter("level:CRITICAL")(fatal) and parse_filter("level:ERROR+")(fatal)
    assert parse_filter("level:warn+")(severe) and parse_filter("level:ERROR")(severe)
    assert not parse_filter("level:CRITICAL")(severe) and not parse_filter("level:ERROR")(warn)
    assert not parse_filter("").active


@pytest.mark.parametrize("bad", ["/([/", "level:LOUD", "level:WARNINGING", "loss>lots"])
def test_bad_filters_say_why(bad: str) -> None:
    with pytest.raises(FilterError):
        parse_filter(bad)


def test_search_is_literal_unless_regex() -> None:
    pattern = search_pattern("a.b")
    assert pattern is not None and pattern.search("xa.by") and not pattern.search("axb")
    regex = search_pattern("/a.b/")
    assert regex is not None and regex.search("axb")
    assert search_pattern("") is None


def test_terms_combine_with_and_and_keep_quotes_and_regexes_whole() -> None:
    hit = line("Took 3.2 seconds to spawn the instance", level="INFO", loss=3.0)
    assert parse_filter('"to spawn" /took \\d+\\.\\d seconds/ loss>2')(hit)
    assert not parse_filter('"to spawn" /took \\d+\\.\\d seconds/ loss>4')(hit)
    assert not parse_filter("level:INFO level:ERROR")(hit)  # two levels: both must hold
    assert parse_filter("level:INFO+ level:INFO")(hit)
    assert not parse_filter("loss>0")(line("no score yet"))  # an unscored line is never over a bar
    assert parse_filter("spawn").active and parse_filter("spawn").source == "spawn"
