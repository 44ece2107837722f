"""The child process that learns a log (``python -m logwatch.core.learning.learn_child JOB_DIR``), and
:class:`LearnWorker`, the parent's end that starts it and reads its answer.

Started by :class:`~.learner.Learner`, for the first learning and for learning again.
The job directory holds ``job.json`` (the base model's directory, the learning config, the lines
marked normal) and ``window.jsonl`` (the window's ``[source, text]`` pairs); the learned model is
written to ``JOB_DIR/learned``. Progress and the outcome go to stdout as JSON lines:
``{"progress": [done, total]}``, then ``{"done": summary}`` or ``{"error": message}``.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model import LoadedModel, load_model_dir, write_model_dir
from ..spec import SPEC_FILE, ModelDirError
from .learn import LearnConfig, Learned, LearnError

if TYPE_CHECKING:
    from ..known_normal import KnownNormal


def write_job(job: Path, *, base_dir: Path, window: list[tuple[str, str]], config: LearnConfig,
              marked: list[str]) -> None:
    job_spec = {"base": str(base_dir), "config": asdict(config), "marked": marked, "started": time.time()}
    (job / "job.json").write_text(json.dumps(job_spec), encoding="utf-8")
    with (job / "window.jsonl").open("w", encoding="utf-8") as out:
        for source, text in window:
            out.write(json.dumps([source, text]) + "\n")  # ASCII escapes: any text, lone surrogates too


class LearnWorker:
    """The parent's end: runs :func:`~.learn.learn` in this child process.

    A process, not a thread: training in a thread ran about a third slower here (measured:
    42 s against 31 s for the same 82k tokens on 2 cores), and its Python work would compete
    with the monitor's UI for the GIL. Nothing is pickled between the two: the child gets a job
    directory (the base model's directory, the window as JSON lines, the config as JSON), prints
    its progress as JSON lines, and writes the learned model as a model directory
    (safetensors + JSON) that is read back here.
    """

    def __init__(self, base: LoadedModel, window: list[tuple[str, str]], config: LearnConfig,
                 known_normal: KnownNormal | None = None) -> None:
        """``known_normal``: the operator's marks, learned as normal whatever the window says."""
        marked = [m.text for m in known_normal.marks] if known_normal is not None else []
        self._tmp = Path(tempfile.mkdtemp(prefix="logwatch-learn-"))
        base_dir = base.directory
        if not (base_dir / SPEC_FILE).is_file():
            base_dir = self._tmp / "base"  # a model held only in memory (learned earlier in this run)
            write_model_dir(base, base_dir)
        write_job(self._tmp, base_dir=base_dir, window=window, config=config, marked=marked)
        self._done = (0, 0)
        self._seconds = config.max_seconds
        self._first_asked: float | None = None
        self._first_step: tuple[float, int] | None = None
        self._outcome: tuple[str, Any] | None = None
        self._process = subprocess.Popen(
            [sys.executable, "-m", "logwatch.core.learning.learn_child", str(self._tmp)], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=(self._tmp / "stderr.txt").open("wb"), start_new_session=True)
        self._reader = threading.Thread(target=self._read, name="logwatch-learn-progress", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for raw in self._process.stdout:
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(message, dict):
                continue
            if "progress" in message:
                done, total = message["progress"]
                self._done = (int(done), int(total))
            elif "done" in message:
                self._outcome = ("done", message["done"])
            elif "error" in message:
                self._outcome = ("error", str(message["error"]))

    def progress(self, now: float) -> tuple[int, int, float | None]:
        """Steps done, steps in all, and the seconds left at the pace since the first step (the
        child's start-up, loading torch and the model, is not a step), at most what is left of the
        time budget (the first steps' pace still plans the whole schedule)."""
        done, total = self._done
        if self._first_asked is None:
            self._first_asked = now
        if done and self._first_step is None:
            self._first_step = (now, done)
        return done, total, learning_eta(now, done, total, self._first_step, self._first_asked + self._seconds)

    def finished(self) -> bool:
        return self._process.poll() is not None and not self._reader.is_alive()

    def wait(self, seconds: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(seconds)

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def result(self) -> tuple[Learned | None, str]:
        """The learned model (read back into memory) or None, and why not."""
        self._reader.join(10)
        try:
            if self._outcome is None:
                tail = (self._tmp / "stderr.txt").read_text(errors="replace").strip().splitlines()[-1:]
                return None, (f"the learning process ended unexpectedly (exit code {self._process.returncode}"
                              + (f": {tail[0][:200]})" if tail else ")"))
            kind, value = self._outcome
            if kind != "done":
                return None, str(value)
            model = load_model_dir(self._tmp / "learned")
            model.label = "learned from this log"
            model.directory = Path(LEARNED_IN_MEMORY)
            return Learned(model, dict(value)), ""
        except (ModelDirError, OSError) as exc:
            return None, f"the learned model could not be read back: {exc}"
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)


def learning_eta(now: float, done: int, total: int, first_step: tuple[float, int] | None,
                 deadline: float) -> float | None:
    """Seconds left: the pace since ``first_step`` (when, steps done then) times the steps left,
    but never past ``deadline``; None before a second step was seen."""
    if first_step is None or done <= first_step[1]:
        return None
    since, at = first_step
    return min((now - since) / (done - at) * max(0, total - done), max(0.0, deadline - now))


#: The directory a learned model that was not saved claims (it has none).
LEARNED_IN_MEMORY = "<learned in memory>"


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message, default=str) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    from ..known_normal import KnownNormal
    from ..train import Progress
    from .learn import learn

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
        began = spec.get("started")
        learned = learn(load_model_dir(spec["base"]), window, config=config,
                        known_normal=KnownNormal.from_lines(marked) if marked else None, on_progress=on_progress,
                        started=float(began) if isinstance(began, (int, float)) and math.isfinite(began) else None)
        write_model_dir(learned.model, job / "learned")
        _say({"done": learned.summary})
    except LearnError as exc:
        _say({"error": str(exc)})
    except Exception as exc:  # noqa: BLE001 - reported to the stream, which keeps the model it had
        _say({"error": f"{type(exc).__name__}: {exc}"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
