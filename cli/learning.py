"""Learning on the command line: how ``logwatch score`` starts its run, learning's progress on
stderr, and ``logwatch models``.

What a run learns, from which model and what it remembers is decided in core
(:func:`logwatch.core.learning.start.prepare`); this module gives it the command's thread policy
and words its failures as usage errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .common import UsageError, open_known_normal, print_listing, say, usage_error

if TYPE_CHECKING:
    from logwatch.core.learning.start import Prepared
    from logwatch.core.learning.status import LearnStatus
    from logwatch.core.settings import RunSettings


def prepare_run(settings: RunSettings, inputs: list[str], patterns: list[str]) -> Prepared:
    """``score``'s engine and its learning, scoring on every core unless the machine is busy;
    a usage error if the engine cannot start."""
    from logwatch.core.engine import EngineError
    from logwatch.core.learning.start import learn_label, prepare
    from logwatch.core.threads import scoring_threads

    store = open_known_normal(settings.known_normal)
    try:
        return prepare(settings, learn_label(inputs, patterns), known_normal=store,
                       threads=scoring_threads(keep_a_core=False))
    except EngineError as exc:
        raise usage_error(str(exc)) from None


class StderrProgress:
    """Learning's phases as ``logwatch:`` lines on stderr (the JSON rows on stdout stay clean)."""

    def __init__(self, seconds: float | None = None) -> None:
        """``seconds``: the learning's time budget, said when training starts (a wait with no end
        in sight looks hung)."""
        self._last = ""
        self._seconds = seconds

    def show(self, status: LearnStatus | None) -> None:
        if status is None:
            return
        if status.phase == "training":
            text = "learning this log: training" + (
                f" (at most {self._seconds:g} s, --learn-seconds)" if self._seconds is not None else "")
        elif status.phase == "relearning":  # one line when it starts (and one if score waits for it), not per step
            text = replace(status, steps_total=0, eta_seconds=None).text()
        else:
            text = status.text()
        # Collecting prints when it starts and when the window starts to grow for time, not per batch.
        key = f"collecting {bool(status.goal)}" if status.phase == "collecting" else text
        if text and key != self._last and status.phase != "probing":
            self._last = key
            say(text)


# -- logwatch models --------------------------------------------------------------------------------
def run_models(*, remove: tuple[str, ...], as_json: bool) -> None:
    """``logwatch models``: the learned models, newest first; ``--remove NAME`` deletes some."""
    from logwatch.core.learning import memory

    for name in remove:
        try:
            path = memory.remove(name)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        say(f"removed {path}")
    rows = [{"name": m.name, "learned": m.when, "source": m.learned.get("source"),
             "lines": m.learned.get("usable_lines"), "threshold": m.learned.get("line_threshold"),
             "path": str(m.path), "note": m.learned.get("note")}
            for m in sorted(memory.listing(), key=lambda m: m.when, reverse=True)]
    def cell(key: str) -> Callable[[dict[str, Any]], str]:
        return lambda row: "-" if row[key] is None else str(row[key])

    print_listing(rows, as_json=as_json, title=f"{len(rows)} learned model(s) in {memory.models_dir()}",
                  columns=[(header, cell(key)) for header, key in (("name", "name"), ("learned (UTC)", "learned"),
                                                                   ("lines", "lines"), ("threshold", "threshold"),
                                                                   ("from", "source"), ("note", "note"))
                           # the note column only when a model has one: it narrows the others on an 80-column terminal
                           if key != "note" or any(row["note"] for row in rows)],
                  empty="none yet: logwatch learns a log it does not know the first time it watches it")
