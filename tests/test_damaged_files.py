"""Model and state files someone handed over, or that a crash or an editor damaged: one clear
``logwatch:`` line (or the file listed as damaged), never a traceback.

Each case was a traceback before its fix: NaN weights crashed the int8 packing, ``Infinity`` as a
pattern count and JSON nested 100,000 deep escaped the JSON readers.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from logwatch.cli.main import main
from logwatch.core.jsonl import loads
from logwatch.core.spec import PATTERNS_FILE, WEIGHTS_FILE

DEEP = "[" * 100_000 + "]" * 100_000


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture()
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "model"
    shutil.copytree(tiny_model_dir, out)
    return out


@pytest.fixture()
def log(tmp_path: Path) -> Path:
    path = tmp_path / "x.log"
    path.write_text("2017-05-16 00:00:01.000 1 INFO nova.compute.manager [-] started\n")
    return path


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e30])
@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_weights_that_are_not_finite_or_absurd_are_a_usage_error_naming_the_tensor(model_copy: Path, log: Path,
                                                                                   value: float, precision: str) -> None:
    from safetensors.torch import load_file, save_file

    weights = load_file(str(model_copy / WEIGHTS_FILE))
    weights["transformer.h.1.mlp.c_fc.weight"][3, 7] = value
    save_file(weights, str(model_copy / WEIGHTS_FILE))
    result = _run("score", str(log), "--learn", "off", "--model", str(model_copy), "--precision", precision,
                  "--device", "cpu")
    assert result.exit_code == 2 and result.stdout == "", result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"model {model_copy}: weight transformer.h.1.mlp.c_fc.weight holds" in result.stderr


@pytest.mark.parametrize("count", ["Infinity", "NaN", "-3", "2.5", "true", '"7"', "1e400"])
def test_a_pattern_count_that_is_not_a_whole_number_is_a_usage_error(model_copy: Path, log: Path, count: str) -> None:
    data = json.loads((model_copy / PATTERNS_FILE).read_text())
    first = data["patterns"][0]
    text = json.dumps(data).replace(json.dumps(first), f"[{json.dumps(first[0])}, {count}]", 1)
    assert json.loads(text)["patterns"][0][0] == first[0]  # what Python's json reads: only the count is wrong
    (model_copy / PATTERNS_FILE).write_text(text)
    result = _run("score", str(log), "--learn", "off", "--model", str(model_copy))
    assert result.exit_code == 2 and result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    assert str(model_copy / PATTERNS_FILE) in result.stderr and "count" in result.stderr, result.stderr


@pytest.mark.parametrize("name", ["spec.json", "calibration.json", PATTERNS_FILE])
def test_model_json_nested_past_the_recursion_limit_is_a_usage_error(model_copy: Path, log: Path, name: str) -> None:
    (model_copy / name).write_text('{"format": ' + DEEP + "}")
    result = _run("score", str(log), "--learn", "off", "--model", str(model_copy))
    assert result.exit_code == 2 and "nested too deeply" in result.stderr and result.stderr.count("\n") == 1


def test_a_damaged_learned_json_is_listed_as_damaged(_private_state_dir: Path) -> None:
    models = _private_state_dir / "logwatch" / "models"
    for name, text in (("deep.log", DEEP), ("nan.log", '{"source": "x", "line_threshold": NaN}'),
                       ("fine.log", '{"source": "fine.log", "created": "2026-01-01T00:00:00+00:00"}')):
        (models / name).mkdir(parents=True)
        (models / name / "learned.json").write_text(text)
    listed = _run("models", "--json")
    assert listed.exit_code == 0, listed.stderr
    rows = {row["name"]: row for row in map(json.loads, listed.stdout.splitlines())}
    assert set(rows) == {"deep.log", "nan.log", "fine.log"} and rows["fine.log"]["source"] == "fine.log"
    assert rows["deep.log"]["note"] == rows["nan.log"]["note"] == "learned.json is damaged"
    assert rows["fine.log"]["note"] is None
    table = _run("models")
    assert table.exit_code == 0 and table.stdout.count("damaged") == 2, table.stdout


def test_a_known_normal_file_nested_past_the_recursion_limit_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "known.json"
    path.write_text(DEEP)
    result = _run("marks", "--known-normal", str(path))
    assert result.exit_code == 2 and "nested too deeply" in result.stderr and result.stderr.count("\n") == 1


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                    max_leaves=12))
def test_the_shared_reader_gives_back_what_was_written_or_refuses_non_finite_numbers(value: object) -> None:
    text = json.dumps(value)
    if any(word in text for word in ("NaN", "Infinity")):
        with pytest.raises(ValueError, match="not a number JSON allows"):
            loads(text)
    else:
        assert loads(text) == json.loads(text)


def test_what_logwatch_writes_into_a_model_directory_it_reads_back(tmp_path: Path) -> None:
    """A diverged figure (NaN) in a learned model's calibration details is written as null, so the
    strict reader never refuses a model logwatch itself wrote."""
    from logwatch.core.spec import read_json, write_json

    write_json(tmp_path / "calibration.json", {"line_threshold": 2.5, "details": {"int8_max_diff": math.nan,
                                                                                  "q": [1.0, math.inf]}})
    assert read_json(tmp_path / "calibration.json") == {"line_threshold": 2.5, "details": {"int8_max_diff": None,
                                                                                           "q": [1.0, None]}}
