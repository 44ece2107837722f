"""Model and state files someone handed over, or that a crash or an editor damaged: one clear
``logwatch:`` line (or the file listed as damaged), never a traceback.

Each case was a traceback before its fix: NaN weights crashed the int8 packing, ``Infinity`` as a
pattern count and JSON nested 100,000 deep escaped the JSON readers.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from logwatch.cli.main import main
from logwatch.core.spec import WEIGHTS_FILE


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
