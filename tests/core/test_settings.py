"""RunSettings: one validation per option, and every run flag of the command line is a field."""

from __future__ import annotations

import math
from dataclasses import fields

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logwatch.core.settings import LEARN_LINES, RunSettings, SettingsError, learn_lines, valid_name


def test_defaults_are_valid_and_documented_by_the_command_line_defaults() -> None:
    settings = RunSettings()
    assert settings.learn == "auto" and settings.relearn == 50_000 and settings.learn_window_lines is None


@pytest.mark.parametrize("options, option", [
    ({"device": "tpu"}, "--device"),
    ({"precision": "int4"}, "--precision"),
    ({"learn": "sometimes"}, "--learn"),
    ({"learn": "²"}, "--learn"),  # a superscript digit: str.isdigit says yes, int() says no
    ({"learn": "١٠٠٠"}, "--learn"),  # Arabic-Indic digits: int() would take them
    ({"learn": "199"}, "--learn N"),
    ({"learn": "1000001"}, "--learn N"),
    ({"learn_seconds": math.nan}, "--learn-seconds"),
    ({"learn_seconds": 4.9}, "--learn-seconds"),
    ({"idle_seconds": math.inf}, "--idle-seconds"),
    ({"speed": -1.0}, "--speed"),
    ({"relearn": 999}, "--relearn"),
    ({"relearn": -1}, "--relearn"),
    ({"name": "../etc"}, "model name"),
    ({"name": "nova²"}, "model name"),
])
def test_nonsense_is_refused_naming_the_option(options: dict[str, object], option: str) -> None:
    with pytest.raises(SettingsError, match=option.replace("-", r"\-")):
        RunSettings(**options)  # type: ignore[arg-type]


def test_learn_is_normalised_and_its_lines_read() -> None:
    assert RunSettings(learn=" Fresh ").learn == "fresh"
    assert RunSettings(learn="5000").learn_window_lines == 5000
    assert RunSettings(relearn=0).relearn == 0


@given(st.text(max_size=12))
def test_learn_lines_never_raises_anything_but_a_settings_error(text: str) -> None:
    try:
        lines = learn_lines(text)
    except SettingsError:
        return
    assert lines is None or LEARN_LINES[0] <= lines <= LEARN_LINES[1]


@given(st.text(max_size=70))
def test_a_valid_name_is_a_plain_ascii_file_name(name: str) -> None:
    try:
        valid_name(name)
    except SettingsError:
        return
    assert name.isascii() and "/" not in name and not name.startswith(".") and 0 < len(name) <= 64


def test_from_options_splits_settings_from_the_rest() -> None:
    settings, rest = RunSettings.from_options({"device": "cpu", "labels": "x.csv"})
    assert settings.device == "cpu" and rest == {"labels": "x.csv"}


@pytest.mark.parametrize("command", ["watch", "score"])
def test_every_flag_of_a_run_command_is_a_settings_field(command: str) -> None:
    """So the options travel whole: a flag added without a field fails here, not in a run."""
    from logwatch.cli.main import main

    names = {f.name for f in fields(RunSettings)}
    params = {p.name for p in main.commands[command].params if p.name not in ("paths", "help")}
    assert params and params <= names, params - names
