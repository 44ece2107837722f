"""Learning on the command line: its progress on stderr and ``logwatch models``.

What a run learns, from which model and what it remembers is decided in core
(:func:`logwatch.core.learning.start.prepare`); this module only shows it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .common import UsageError, print_listing

if TYPE_CHECKING:
    from logwatch.core.learning.status import LearnStatus


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
            print(f"logwatch: {text}", file=sys.stderr, flush=True)


# -- logwatch models --------------------------------------------------------------------------------
def run_models(*, remove: tuple[str, ...], as_json: bool) -> None:
    """``logwatch models``: the learned models, newest first; ``--remove NAME`` deletes some."""
    from logwatch.core.learning import memory

    for name in remove:
        try:
            path = memory.remove(name)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        print(f"removed {path}", file=sys.stderr)
    rows = [{"name": m.name, "learned": m.when, "source": m.learned.get("source"),
             "lines": m.learned.get("usable_lines"), "threshold": m.learned.get("line_threshold"),
             "path": str(m.path)} for m in sorted(memory.listing(), key=lambda m: m.when, reverse=True)]
    def cell(key: str) -> Callable[[dict[str, Any]], str]:
        return lambda row: "-" if row[key] is None else str(row[key])

    print_listing(rows, as_json=as_json, title=f"{len(rows)} learned model(s) in {memory.models_dir()}",
                  columns=[(header, cell(key)) for header, key in (("name", "name"), ("learned (UTC)", "learned"),
                                                                   ("lines", "lines"), ("threshold", "threshold"),
                                                                   ("from", "source"))],
                  empty="none yet: logwatch learns a log it does not know the first time it watches it")
