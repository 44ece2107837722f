"""The child process that learns a log (``python -m logwatch.core.learn_child JOB_DIR``).

Started by :class:`logwatch.core.learning.Learning`. The job directory holds ``job.json`` (the
base model's directory, the learning config, the lines marked normal) and ``window.jsonl``
(the window's ``[source, text]`` pairs); the learned model is written to ``JOB_DIR/learned``.
Progress and the outcome go to stdout as JSON lines: ``{"progress": [done, total]}``, then
``{"done": summary}`` or ``{"error": message}``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from .learn import LearnConfig, LearnError


def write_job(job: Path, *, base_dir: Path, window: list[tuple[str, str]], config: LearnConfig,
              marked: list[str]) -> None:
    (job / "job.json").write_text(json.dumps({"base": str(base_dir), "config": asdict(config), "marked": marked}),
                                  encoding="utf-8")
    with (job / "window.jsonl").open("w", encoding="utf-8") as out:
        for source, text in window:
            out.write(json.dumps([source, text]) + "\n")  # ASCII escapes: any text, lone surrogates too


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message, default=str) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    from .known_normal import KnownNormal
    from .learn import learn
    from .model import load_model_dir, write_model_dir
    from .train import Progress

    job = Path(argv[0])
    try:
        spec = json.loads((job / "job.json").read_text(encoding="utf-8"))
        known = {f.name for f in fields(LearnConfig)}
        config = LearnConfig(**{k: v for k, v in spec["config"].items() if k in known})
        rows = (json.loads(line) for line in (job / "window.jsonl").read_text(encoding="utf-8").splitlines())
        window = [(str(source), str(text)) for source, text in rows]

        def on_progress(p: Progress) -> None:
            _say({"progress": [p.steps_done, p.steps_total]})

        marked = spec.get("marked") or []
        learned = learn(load_model_dir(spec["base"]), window, config=config,
                        known_normal=KnownNormal.from_lines(marked) if marked else None, on_progress=on_progress)
        write_model_dir(learned.model, job / "learned")
        _say({"done": learned.summary})
    except LearnError as exc:
        _say({"error": str(exc)})
    except Exception as exc:  # noqa: BLE001 - reported to the stream, which keeps the model it had
        _say({"error": f"{type(exc).__name__}: {exc}"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
