"""Models learned from logs, remembered between runs (``logwatch models``).

A learned model is a plain model directory (safetensors + JSON, nothing pickled) under
``$XDG_STATE_HOME/logwatch/models/<name>/`` (``~/.local/state/...``), named after the log it was
learned from (its file name) or ``--name``, with ``learned.json`` saying from what and when. The
next run on that log starts from it instead of the bundled model; ``--learn fresh`` ignores it.
Directories are written to a temporary name and renamed into place, so a crash never leaves a
half-written model behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..model import LoadedModel, load_model_dir, write_model_dir
from ..settings import valid_name
from ..spec import SUMMARY_FILE, ModelDirError, read_json
from .learn import Learned

LEARNED_FILE = "learned.json"


def learned_dir_name(source: str) -> str:
    """A model directory name for a log: its file name, made safe (stdin is "stdin")."""
    base = "stdin" if source in ("-", "") else Path(source).name
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in base).strip("._") or "log"
    return safe[:64]


def models_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "logwatch" / "models"


@dataclass(frozen=True)
class Remembered:
    """One saved model, as ``logwatch models`` lists it."""

    name: str
    path: Path
    learned: dict[str, Any]

    @property
    def when(self) -> str:
        return str(self.learned.get("created", ""))[:19]


def save(learned: Learned, name: str, *, source: str) -> Path:
    """Write the learned model as ``models/<name>/`` (replacing an older one of that name)."""
    target = models_dir() / valid_name(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        write_model_dir(learned.model, tmp)
        info = {"source": source, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                **{k: v for k, v in learned.summary.items() if k != "config"}}
        (tmp / LEARNED_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        (tmp / SUMMARY_FILE).write_text(json.dumps(learned.summary, indent=2, default=str) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def find(name: str) -> Path | None:
    path = models_dir() / name
    return path if (path / LEARNED_FILE).is_file() else None


def load(name: str) -> LoadedModel:
    """A remembered model, labelled with its name; ModelDirError if it is damaged."""
    path = find(name)
    if path is None:
        raise ModelDirError(f"no learned model named {name!r} (see `logwatch models`)")
    model = load_model_dir(path)
    model.label = f"learned: {name}"
    return model


def listing() -> list[Remembered]:
    root = models_dir()
    if not root.is_dir():
        return []
    out = []
    for path in sorted(root.iterdir()):
        info_path = path / LEARNED_FILE
        if path.name.startswith(".") or not info_path.is_file():
            continue
        try:
            info = read_json(info_path)
        except ModelDirError:  # unreadable, not strict JSON (NaN, nested 100,000 deep): listed, not read
            info = {"note": "learned.json is damaged"}
        out.append(Remembered(path.name, path, info if isinstance(info, dict) else {}))
    return out


def remove(name: str) -> Path:
    path = find(valid_name(name))
    if path is None:
        raise ValueError(f"no learned model named {name!r} (see `logwatch models`)")
    shutil.rmtree(path)
    return path
