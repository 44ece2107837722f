"""Boundaries the design depends on, checked in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "core"


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_core_never_loads_textual_or_rich() -> None:
    modules = sorted(".".join(p.relative_to(CORE).with_suffix("").parts) for p in CORE.rglob("*.py")
                     if p.stem not in ("__init__", "__main__") and "default_model" not in p.parts)
    imports = "; ".join(f"import logwatch.core.{m}" for m in modules)
    loaded = _modules_after(imports)
    assert {"logwatch.core.engine", "logwatch.core.eval.evaluate", "logwatch.core.generator.sim"} <= loaded
    assert not {m for m in loaded if m.split(".")[0] in {"textual", "rich"}}


def test_engine_import_does_not_load_torch() -> None:
    loaded = _modules_after("import logwatch.core.engine, logwatch.core.ingest, logwatch.core.parse")
    assert "logwatch.core.engine" in loaded
    assert "torch" not in loaded and "transformers" not in loaded


def test_help_does_not_import_torch_or_textual() -> None:
    code = ("import sys\nfrom click.testing import CliRunner\nfrom logwatch.cli.main import main\n"
            "r = CliRunner().invoke(main, ['--help'])\nassert r.exit_code == 0, r.output\n"
            "assert 'score' in r.output\n"
            "for sub in ('score', 'train', 'calibrate', 'eval', 'watch'):\n"
            "    r = CliRunner().invoke(main, [sub, '--help']); assert r.exit_code == 0, r.output\n")
    loaded = _modules_after(code)
    assert "logwatch.cli.main" in loaded
    assert "torch" not in loaded
    assert "textual" not in loaded
