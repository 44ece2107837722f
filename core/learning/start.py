"""How a run starts learning the watched log: the one headless entry point, :func:`prepare`.

``logwatch score``, the monitor's pipeline, the benchmarks and a fleet worker each make one call
with the run's :class:`~logwatch.core.settings.RunSettings` and the log's name. It decides

- the plan ``--learn``, ``--learn-seconds`` and ``--name`` ask for (:func:`learn_plan`);
- which model the run starts from: ``--model DIR`` if given; else the model remembered for this
  log (``--name``, or the log's file name) if there is one, unless ``--learn fresh``, ``off`` or
  ``N``; else the bundled model (:func:`starting_model`);
- that a learned model is remembered under the plan's name (:mod:`.memory`);
- when learning again is armed: at once when the model in use was remembered for this log, else
  once the stream has learned it;

and returns the engine with the first learning and learning again, which the caller hands to
:func:`~logwatch.core.stream.run_stream`. ``logwatch eval --learn`` learns the first lines of
its files in one go instead (:func:`learn_first_lines`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..engine import Engine
from ..spec import ModelDirError
from . import memory
from .learn import LearnConfig, Learned, LearnError, learn
from .learn_window import WindowRule, first_window
from .learning import Learning, LearnPlan
from .relearn import Relearning, RelearnPlan

if TYPE_CHECKING:
    from ..known_normal import KnownNormal
    from ..model import LoadedModel
    from ..settings import RunSettings
    from ..train import Progress
    from ..types import LogLine


def learn_label(inputs: list[str], patterns: list[str]) -> str:
    """What a model learned from these inputs is remembered by (``--name`` overrides it): the
    log's name, ``stdin``, or for several logs the first one's name and how many more."""
    if not inputs:
        return patterns[0] if patterns else "-"
    return inputs[0] if len(inputs) == 1 else f"{inputs[0]}+{len(inputs) - 1}"


def learn_plan(settings: RunSettings, source: str) -> LearnPlan:
    """The plan ``--learn``, ``--learn-seconds`` and ``--name`` ask for (already validated)."""
    window = settings.learn_window_lines
    mode = "always" if window is not None or settings.learn == "fresh" else settings.learn
    remembered = settings.name if settings.name is not None else memory.learned_dir_name(source)
    plan = LearnPlan(mode=mode, name=remembered, source=source)
    plan = replace(plan, config=replace(plan.config, max_seconds=settings.learn_seconds))
    if window is not None:
        plan = replace(plan, window=WindowRule.exactly(window))
    return plan


def starting_model(settings: RunSettings, plan: LearnPlan) -> tuple[LoadedModel | None, str]:
    """The remembered model to start from (None: ``--model`` or the bundled one), and a note."""
    if settings.model_dir is not None or settings.learn in ("fresh", "off") or settings.learn_window_lines is not None:
        return None, ""
    if plan.name is None or memory.find(plan.name) is None:
        return None, ""
    try:
        model = memory.load(plan.name)
    except ModelDirError as exc:
        return None, f"the model remembered as {plan.name!r} cannot be read ({exc}); starting from the bundled one"
    return model, f"using the model learned for {plan.name!r} earlier (`logwatch models`; --learn fresh starts over)"


def remember(plan: LearnPlan) -> Callable[[Learned], str | None]:
    """Save a learned model under the plan's name (``logwatch models``); the note to show."""

    def save(learned: Learned) -> str | None:
        if plan.name is None:
            return None
        try:
            path = memory.save(learned, plan.name, source=plan.source)
        except (OSError, ValueError) as exc:
            return f"not remembered: {exc}"
        learned.model.directory = path  # a later relearn starts from the saved files
        return f"remembered as {path}"

    return save


@dataclass(frozen=True)
class Prepared:
    """A run ready to score: the engine, and how it learns the log."""

    engine: Engine
    learning: Learning | None = None
    """The first learning (None with ``--learn off``)."""
    relearning: Relearning | None = None
    """Learning again (None with ``--learn off`` or without a model)."""
    note: str = ""
    """Which model the run starts from, when that is worth saying (a remembered one, or why not)."""


def prepare(settings: RunSettings, source: str, *, known_normal: KnownNormal | None, threads: int | None,
            config: LearnConfig | None = None, session_ends: bool | None = None) -> Prepared:
    """The engine a run starts with, and its learning, from the run's settings and the log's name
    (:func:`learn_label`). ``threads``: torch threads for scoring (the caller's policy,
    :mod:`logwatch.core.threads`); ``config``: how learning trains instead of the measured
    defaults (tests); ``session_ends`` overrides the settings' (see
    :meth:`~logwatch.core.engine.Engine.from_settings`). EngineError if the engine cannot start:
    the caller says so in its own words."""
    plan = learn_plan(settings, source)
    if config is not None:
        plan = replace(plan, config=config)
    model, note = starting_model(settings, plan)
    engine = Engine.from_settings(settings, loaded=model, known_normal=known_normal, threads=threads,
                                  session_ends=session_ends)
    if plan.mode == "off":
        return Prepared(engine, note=note)
    on_learned = remember(plan)
    learning = Learning(plan, engine, known_normal=known_normal, on_learned=on_learned)
    relearning = None
    if engine.loaded is not None:
        remembered = engine.loaded.directory.parent == memory.models_dir()
        every = settings.relearn
        again = RelearnPlan(every_lines=every, takeover_lines=every // 2, config=plan.config)
        relearning = Relearning(again, engine, armed=remembered, known_normal=known_normal, on_learned=on_learned)
    return Prepared(engine, learning, relearning, note)


def learn_first_lines(engine: Engine, lines: Iterable[LogLine], rule: WindowRule, *,
                      config: LearnConfig | None = None, known_normal: KnownNormal | None = None,
                      label: str | None = None, on_window: Callable[[int], None] | None = None,
                      on_progress: Callable[[Progress], None] | None = None) -> Learned:
    """What a stream does on a log it does not know, forced and in one go: the engine's model
    adapts to the first of ``lines`` (as many as ``rule`` says; errors left out, the threshold set
    on a held-out part), and the engine then scores with it from the start. ``on_window`` is told
    how many lines are learned from before training starts. LearnError if they cannot be learned
    (the engine keeps its model)."""
    window = first_window(lines, rule)
    if on_window is not None:
        on_window(len(window))
    if engine.loaded is None:
        raise LearnError("no model to adapt")
    learned = learn(engine.loaded, window, config=config, known_normal=known_normal, label=label,
                    on_progress=on_progress)
    engine.use_model(learned.model)
    engine.reset()
    return learned
