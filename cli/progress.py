"""``logwatch train``'s progress bar (epoch, loss, held-out loss, tokens/s, ETA) on stderr.

Only drawing: the model directory is built by :func:`logwatch.core.build.build_model_dir`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from logwatch.core.escape import printable

if TYPE_CHECKING:
    from logwatch.core.build import BuiltModel
    from logwatch.core.train import Progress as TrainProgress


@contextmanager
def training_bar(console: Console) -> Iterator[Callable[[TrainProgress], None]]:
    """A bar that follows training; yields the callback to pass as ``on_progress``."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]:.3f}  held-out {task.fields[val]}  {task.fields[speed]:,.0f} tok/s"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("epoch 1", total=None, loss=0.0, val="–", speed=0.0)

        def on_progress(p: TrainProgress) -> None:
            bar.update(task, description=f"{p.phase if p.phase not in ('train', 'epoch') else 'epoch'} "
                       f"{p.epoch}/{p.epochs}", completed=p.step, total=p.steps_per_epoch, loss=p.loss,
                       speed=p.tokens_per_s)
            if p.phase == "epoch" and p.val_loss is not None:
                bar.update(task, val=f"{p.val_loss:.3f}")

        yield on_progress


def report_built(console: Console, built: BuiltModel) -> None:
    """What was trained and calibrated, after the bar."""
    from logwatch.core.build import summary

    trained = built.trained
    console.print(f"trained {trained.epochs_run} epochs in {trained.seconds:.0f}s, "
                  f"held-out loss {trained.best_val_loss:.3f}")
    for warning in built.warnings:
        console.print(f"[yellow]{escape(printable(warning))}[/]")
    for note in built.notes:
        console.print(printable(note), markup=False, highlight=False)
    figures = summary(built)
    if figures:
        console.print(json.dumps(figures), markup=False, highlight=False)
