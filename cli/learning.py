"""``--learn`` and ``--name`` for the commands that read logs, ``logwatch models``, and learning's
progress on stderr.

Which model a run starts from: ``--model DIR`` if given; else the model remembered for this log
(``--name``, or the log's file name) if there is one, unless ``--learn fresh``; else the bundled
model. Then, with ``--learn auto`` (the default), the stream learns the log if the model does not
know it (:mod:`logwatch.core.learning.learning`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .common import UsageError, print_listing, usage_error

if TYPE_CHECKING:
    from logwatch.core.engine import Engine
    from logwatch.core.known_normal import KnownNormal
    from logwatch.core.learning.learn import Learned
    from logwatch.core.learning.learning import Learning, LearnPlan
    from logwatch.core.learning.relearn import Relearning
    from logwatch.core.learning.status import LearnStatus
    from logwatch.core.model import LoadedModel
    from logwatch.core.settings import RunSettings

def learn_plan(settings: RunSettings, source: str) -> LearnPlan:
    """The plan ``--learn``, ``--learn-seconds`` and ``--name`` ask for (already validated)."""
    from logwatch.core.learning.learn import learned_dir_name
    from logwatch.core.learning.learn_window import WindowRule
    from logwatch.core.learning.learning import LearnPlan

    window = settings.learn_window_lines
    mode = "always" if window is not None or settings.learn == "fresh" else settings.learn
    remembered = settings.name if settings.name is not None else learned_dir_name(source)
    plan = LearnPlan(mode=mode, name=remembered, source=source)
    plan = replace(plan, config=replace(plan.config, max_seconds=settings.learn_seconds))
    if window is not None:
        plan = replace(plan, window=WindowRule.exactly(window))
    return plan


def starting_model(settings: RunSettings, plan: LearnPlan) -> tuple[LoadedModel | None, str]:
    """The remembered model to start from (None: ``--model`` or the bundled one), and a note."""
    if settings.model_dir is not None or settings.learn in ("fresh", "off") or settings.learn_window_lines is not None:
        return None, ""
    from logwatch.core.learning import memory
    from logwatch.core.spec import ModelDirError

    if plan.name is None or memory.find(plan.name) is None:
        return None, ""
    try:
        model = memory.load(plan.name)
    except ModelDirError as exc:
        return None, f"the model remembered as {plan.name!r} cannot be read ({exc}); starting from the bundled one"
    return model, f"using the model learned for {plan.name!r} earlier (`logwatch models`; --learn fresh starts over)"


def engine_for(settings: RunSettings, *, plan: LearnPlan, known_normal: KnownNormal | None) -> tuple[Engine, str]:
    """The engine a learning run starts with (every core unless the machine is busy), and a note
    on which model it is."""
    from logwatch.core.engine import Engine, EngineError
    from logwatch.core.threads import scoring_threads

    model, note = starting_model(settings, plan)
    try:
        return Engine.from_settings(settings, loaded=model, known_normal=known_normal,
                                    threads=scoring_threads(keep_a_core=False)), note
    except EngineError as exc:
        raise usage_error(str(exc)) from None


def learning_for(plan: LearnPlan, engine: Engine, known_normal: KnownNormal | None,
                 on_note: Any = None) -> Learning | None:
    """The stream's learning phase (None with --learn off); learned models are remembered."""
    from logwatch.core.learning.learning import Learning

    if plan.mode == "off":
        return None
    return Learning(plan, engine, known_normal=known_normal, on_learned=_remember(plan))


def relearning_for(plan: LearnPlan, engine: Engine, known_normal: KnownNormal | None, every: int) -> Relearning | None:
    """Keep learning (None with --learn off or no model); armed at once when the model in use was
    remembered for this log, else once the stream has learned it. Relearned models are remembered."""
    from logwatch.core.learning import memory
    from logwatch.core.learning.relearn import Relearning, RelearnPlan

    if plan.mode == "off" or engine.loaded is None:
        return None
    remembered = engine.loaded.directory.parent == memory.models_dir()
    plan_again = RelearnPlan(every_lines=every, takeover_lines=every // 2, config=plan.config)
    return Relearning(plan_again, engine, armed=remembered,
                      known_normal=known_normal, on_learned=_remember(plan))


def _remember(plan: LearnPlan) -> Callable[[Learned], str | None]:
    """Save a learned model under the plan's name (``logwatch models``); the note to show."""
    from logwatch.core.learning import memory

    def remember(learned: Learned) -> str | None:
        if plan.name is None:
            return None
        try:
            path = memory.save(learned, plan.name, source=plan.source)
        except (OSError, ValueError) as exc:
            return f"not remembered: {exc}"
        learned.model.directory = path  # a later relearn starts from the saved files
        return f"remembered as {path}"

    return remember


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
