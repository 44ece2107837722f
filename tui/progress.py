"""``logwatch train`` with a rich progress bar (epoch, loss, tokens/s, ETA) on stderr."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def train_with_progress(lines: list[tuple[str, str]], out_dir: str, *, epochs: int, seed: int, vocab_size: int,
                        batch_size: int, lr: float, holdout: float, max_fpr: float, min_lines: int, half: bool,
                        device: str, session_rule: str, session_check: bool = False) -> None:
    from logwatch.core.calibrate import calibrate, session_losses
    from logwatch.core.engine import Engine
    from logwatch.core.train import Progress as TrainProgress
    from logwatch.core.train import TrainConfig, train_model
    from logwatch.core.types import LogLine

    console = Console(stderr=True)
    config = TrainConfig(epochs=epochs, seed=seed, vocab_size=vocab_size, batch_size=batch_size, lr=lr,
                         holdout=holdout, half_weights=half, device=device, session_rule=session_rule)
    console.print(f"[bold]logwatch train[/]: {len(lines):,} lines → {out_dir}")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]:.3f}  held-out {task.fields[val]}  {task.fields[speed]:,.0f} tok/s"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("epoch 1", total=None, loss=0.0, val="–", speed=0.0)

        def on_progress(p: TrainProgress) -> None:
            bar.update(task, description=f"epoch {p.epoch}/{p.epochs}", completed=p.step,
                       total=p.steps_per_epoch, loss=p.loss, speed=p.tokens_per_s)
            if p.phase == "epoch" and p.val_loss is not None:
                bar.update(task, val=f"{p.val_loss:.3f}")

        result = train_model(lines, out_dir, config, on_progress)
    console.print(f"trained {result.epochs_run} epochs in {result.seconds:.0f}s, held-out loss {result.best_val_loss:.3f}")

    held = result.holdout_sessions
    if not held:
        console.print("[yellow]no held-out sessions: calibration.json not written; run `logwatch calibrate`[/]")
        return
    engine = Engine.load(out_dir, device=device)
    engine.threshold = None
    batch = [LogLine(n=i, text=text, source=key, arrival=0.0)
             for i, (key, texts) in enumerate(held.items()) for text in texts]
    scored = []
    for start in range(0, len(batch), 512):
        scored.extend(engine.score_batch(batch[start : start + 512]))
    calibration = calibrate(session_losses(scored), max_fpr=max_fpr, min_lines=min_lines,
                            details={"calibrated_on": "held-out training sessions"})
    if session_check:
        calibration = replace(calibration, session_check=_fit_session_check(lines, config, held, max_fpr, console))
    calibration.save(Path(out_dir))
    console.print(json.dumps({"line_threshold": calibration.line_threshold, "min_lines": calibration.min_lines,
                              "normal_sessions": calibration.normal_sessions,
                              "flagged_sessions": calibration.flagged_sessions,
                              "session_check_threshold": (calibration.session_check or {}).get("threshold")}))


def _fit_session_check(lines: list[tuple[str, str]], config: object, held: dict[str, list[str]], max_fpr: float,
                       console: Console) -> dict | None:
    """The session-completeness check on the same split as training (None, with a note, if it cannot be stored)."""
    from logwatch.core.session_check import SessionCheck
    from logwatch.core.train import group_sessions, split_sessions

    train, _ = split_sessions(group_sessions(lines, config.session_rule), config.holdout)  # type: ignore[attr-defined]
    check = SessionCheck.fit_raw(train, held, max_fpr=max_fpr)
    if not check.storable():
        console.print(f"[yellow]session check not stored: {len(check.templates):,} distinct masked lines and "
                      f"{len(check.vectors):,} distinct sessions are too many for calibration.json[/]")
        return None
    console.print(f"session check: {len(check.vectors):,} distinct normal sessions, threshold {check.threshold:.4g}")
    return check.to_dict()
