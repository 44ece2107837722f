"""Train the tokenizer and the LM on normal logs (``logwatch train``).

Training sees exactly the contexts the scorer will use: each session's lines go through
the same :class:`~logwatch.core.scorer.SessionWindow`, and every window the scorer would
hold becomes one training sequence in which only the lines *added* in that window carry a
loss (lines kept from the previous window are context, already learned once). Sessions are
never concatenated into fixed blocks: that breaks the transitions the model must learn.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .masking import MASK_VERSION, mask_line
from .model import hf_model, pick_device, save_weights
from .sessions import EntryKeys, SessionKeyer
from .spec import SUMMARY_FILE, TOKENIZER_FILE, ModelSpec
from .tokenizer import LogTokenizer
from .window import SessionWindow

if TYPE_CHECKING:
    from transformers import GPT2LMHeadModel

IGNORE = -100


#: Training windows per optimiser step, unless told otherwise: ``logwatch train``'s and learning's.
BATCH_WINDOWS = 32


@dataclass
class TrainConfig:
    """Knobs of one training run; saved in the training summary."""

    epochs: int = 8
    """Upper bound on passes over the training windows (early stopping may end sooner)."""
    batch_size: int = BATCH_WINDOWS
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 50
    patience: int = 2
    """Stop when the held-out loss has not improved for this many epochs."""
    holdout: float = 0.1
    """Share of sessions (every n-th, by first appearance) kept out for early stopping and calibration."""
    vocab_size: int = 4096
    seed: int = 0
    device: str = "auto"
    # Architecture: the spec's LogGPT-Small defaults, so they are written down once.
    n_layer: int = ModelSpec.n_layer
    n_head: int = ModelSpec.n_head
    n_embd: int = ModelSpec.n_embd
    n_ctx: int = ModelSpec.n_ctx
    max_line_tokens: int = ModelSpec.max_line_tokens
    dropout: float = 0.1
    session_rule: str = "builtin"
    half_weights: bool = False
    """Store weights as fp16 (half the file size; the bundled model uses it)."""


@dataclass
class Progress:
    """One progress report, sent after every optimiser step and at each epoch's end."""

    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int
    loss: float
    tokens_per_s: float
    val_loss: float | None = None
    phase: str = "train"
    steps_done: int = 0
    """Optimiser steps so far, and how many are planned (for an ETA across epochs)."""
    steps_total: int = 0


@dataclass
class TrainResult:
    spec: ModelSpec
    best_val_loss: float
    epochs_run: int
    seconds: float
    train_sessions: dict[str, list[str]]
    """Training sessions as raw lines (long ones not yet cut into chunks)."""
    holdout_sessions: dict[str, list[str]]
    """Held-out sessions as raw lines, for calibration: never trained on."""


def group_sessions(lines: Iterable[tuple[str, str]], rule: str) -> dict[str, list[str]]:
    """(source, text) pairs → session → its lines in order (dicts keep first-seen order)."""
    entries = EntryKeys(SessionKeyer(rule))  # as the engine keys a stream: multi-line entries stay whole
    sessions: dict[str, list[str]] = {}
    for source, text in lines:
        sessions.setdefault(entries.key(text, source), []).append(text)
    return sessions


#: Sessions longer than this are split in time rather than held out whole: a host's periodic
#: tasks often share one request id for the whole log, and holding that one session out would
#: leave the model never having seen a resource audit.
LONG_SESSION_LINES = 64


def split_sessions(sessions: dict[str, list[str]], holdout: float) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Every n-th session (by first appearance) is held out: spread over the whole time range.

    Long sessions are split instead: their earliest lines train, their latest are held out.
    """
    if holdout <= 0 or len(sessions) < 4:
        return sessions, {}
    every = max(2, round(1 / holdout))
    train, held = {}, {}
    short = 0
    for key, lines in sessions.items():
        if len(lines) > LONG_SESSION_LINES:
            cut = len(lines) - max(1, round(len(lines) * holdout))
            train[key], held[key] = lines[:cut], lines[cut:]
            continue
        (held if short % every == every - 1 else train)[key] = lines
        short += 1
    return train, held


def chunk_long_sessions(sessions: dict[str, list[str]], size: int = LONG_SESSION_LINES,
                        start_stride: int = 2, start_lines: int = 4) -> dict[str, list[str]]:
    """Cut sessions longer than ``size`` lines into chunks, plus short "session start" samples.

    A long-lived session (a host's periodic tasks) starts only once per log, so the model would
    see its opening lines after BOS a single time and find them surprising in every new log, or
    whenever monitoring starts mid-stream. Besides the plain chunks (long context), every
    ``start_stride``-th line also opens a short sample of ``start_lines`` lines, so any of the
    session's lines is a known way to begin one.
    """
    out: dict[str, list[str]] = {}
    for key, lines in sessions.items():
        if len(lines) <= size:
            out[key] = lines
            continue
        for i in range(0, len(lines), size):
            out[f"{key}#{i // size}"] = lines[i : i + size]
        for i in range(0, len(lines) - start_lines + 1, start_stride):
            out[f"{key}@{i}"] = lines[i : i + start_lines]
    return out


def build_windows(sessions: Iterable[list[list[int]]], spec: ModelSpec, bos_id: int,
                  cont_id: int) -> list[tuple[list[int], list[int]]]:
    """(input ids, labels) per window, as the scorer would see the session's lines."""
    windows = []
    for lines in sessions:
        window = SessionWindow(spec, bos_id, cont_id)
        ids: list[int] = []
        labels: list[int] = []
        for line in lines:
            if window.prepare(len(line)):  # first line, or the window slid: the previous sequence is complete
                if ids:
                    windows.append((ids, labels))
                ids = window.tokens()
                labels = [IGNORE] * len(ids)
            ids = ids + line
            labels = labels + line
            window.append(line)
        if ids:
            windows.append((ids, labels))
    return windows


def _batches(windows: list[tuple[list[int], list[int]]], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Length-bucketed batches in random order: little padding, still shuffled."""
    order = sorted(range(len(windows)), key=lambda i: (len(windows[i][0]), rng.random()))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


Windows = list[tuple[list[int], list[int]]]
"""(input ids, labels) of every training sequence."""


def _tensors(windows: Windows, batch: list[int], pad_id: int,
             device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(windows[i][0]) for i in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, i in enumerate(batch):
        x, y = windows[i]
        ids[row, : len(x)] = torch.tensor(x)
        labels[row, : len(y)] = torch.tensor(y)
        mask[row, : len(x)] = 1
    return ids.to(device), labels.to(device), mask.to(device)


def _mean_loss(model: GPT2LMHeadModel, windows: Windows, batches: list[list[int]], pad_id: int,
               device: torch.device) -> float:
    total, count = 0.0, 0
    model.eval()
    with torch.inference_mode():
        for batch in batches:
            ids, labels, mask = _tensors(windows, batch, pad_id, device)
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]  # [B, T-1, V]
            target = labels[:, 1:]
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=IGNORE, reduction="sum")
            total += float(loss)
            count += int((target != IGNORE).sum())
    model.train()
    return total / max(count, 1)


@dataclass
class Schedule:
    """How long and how fast one fit runs (``logwatch train``'s options, or the learning budget)."""

    epochs: int
    batch_size: int = BATCH_WINDOWS
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 50
    patience: int = 2
    """Stop when the held-out loss has not improved for this many epochs."""
    dropout: float = 0.1
    max_steps: int | None = None
    """Stop after this many optimiser steps (the cosine schedule is sized to it)."""
    max_seconds: float | None = None
    """Wall time of the fit at most: it stops after the step running then, keeping the best state.
    The schedule is not shortened to fit: on HDFS, 85 steps of a cosine planned for 145 left a
    held-out loss of 0.377 where a cosine shortened to 85 steps left 0.584 (with so few steps
    the learning rate is better kept high than decayed)."""


@dataclass
class Fitted:
    best_state: dict[str, torch.Tensor]
    best_val: float
    epochs_run: int
    steps: int
    tokens: int
    """Real (unpadded) tokens trained on."""
    stopped_early: bool = False
    """The time limit or a stop request ended it before its planned steps."""
    planned_steps: int = 0
    """Steps the schedule planned (more than ``steps`` when the time limit stopped it)."""


def fit(model: GPT2LMHeadModel, train_windows: Windows, val_windows: Windows, *, pad_id: int, schedule: Schedule,
        device: torch.device, rng: random.Random, on_progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None) -> Fitted:
    """AdamW with warm-up and cosine decay to 0.1x; held-out loss each epoch; the best state kept."""
    started = time.time()
    model.config.resid_pdrop = model.config.embd_pdrop = model.config.attn_pdrop = schedule.dropout
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = schedule.dropout
    model.to(device)  # type: ignore[arg-type]  # transformers' stub types .to() for models only
    model.train()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimiser = torch.optim.AdamW([{"params": decay, "weight_decay": schedule.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=schedule.lr)
    steps_per_epoch = math.ceil(len(train_windows) / schedule.batch_size)
    total_steps = steps_per_epoch * schedule.epochs
    if schedule.max_steps is not None:
        total_steps = min(total_steps, schedule.max_steps)

    def lr_at(step: int) -> float:
        if step < schedule.warmup_steps:
            return schedule.lr * (step + 1) / schedule.warmup_steps
        progress = (step - schedule.warmup_steps) / max(1, total_steps - schedule.warmup_steps)
        return schedule.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    val_seconds = 0.0  # what one held-out pass took: the last one, after the stop, must fit too

    def out_of_time() -> bool:
        return (schedule.max_seconds is not None and time.time() - started + val_seconds > schedule.max_seconds) or \
            (should_stop is not None and should_stop())

    val_batches = _batches(val_windows, schedule.batch_size, random.Random(0))
    best_val, best_state, bad_epochs, step, epochs_run, tokens, early = float("inf"), None, 0, 0, 0, 0, False
    epochs = math.ceil(total_steps / max(1, steps_per_epoch))
    for epoch in range(1, epochs + 1):
        epochs_run = epoch
        tokens_seen, epoch_start = 0, time.time()
        loss = torch.zeros(())
        for batch_no, batch in enumerate(_batches(train_windows, schedule.batch_size, rng), 1):
            if step >= total_steps or out_of_time():
                early = step < total_steps
                break
            for group in optimiser.param_groups:
                group["lr"] = lr_at(step)
            ids, labels, mask = _tensors(train_windows, batch, pad_id, device)
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]  # [B, T-1, V]
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.size(-1)), labels[:, 1:].reshape(-1), ignore_index=IGNORE)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            step += 1
            tokens_seen += int(mask.sum())
            if on_progress:
                on_progress(Progress(epoch, epochs, batch_no, steps_per_epoch, loss.item(),
                                     tokens_seen / max(1e-9, time.time() - epoch_start), steps_done=step,
                                     steps_total=total_steps))
        tokens += tokens_seen
        val_started = time.time()
        val = _mean_loss(model, val_windows, val_batches, pad_id, device)
        val_seconds = time.time() - val_started
        if on_progress:
            on_progress(Progress(epoch, epochs, steps_per_epoch, steps_per_epoch, loss.item(),
                                 tokens_seen / max(1e-9, time.time() - epoch_start), val, "epoch", steps_done=step,
                                 steps_total=total_steps))
        if val < best_val - 1e-4 or best_state is None:
            best_val, bad_epochs = val, 0
            best_state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
        else:
            bad_epochs += 1
            if bad_epochs >= schedule.patience:
                break
        if step >= total_steps or early:
            break
    assert best_state is not None  # at least one epoch always runs
    if not math.isfinite(best_val):
        raise ValueError("training diverged (the held-out loss is not a number): try a lower --lr")
    return Fitted(best_state, best_val, epochs_run, step, tokens, early, total_steps)


def train_model(lines: Iterable[tuple[str, str]], out_dir: str | Path, config: TrainConfig | None = None,
                on_progress: Callable[[Progress], None] | None = None) -> TrainResult:
    """Train tokenizer + model on (source, text) lines of normal logs and write ``out_dir``."""
    config = config or TrainConfig()
    started = time.time()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)

    sessions = group_sessions(lines, config.session_rule)
    if not sessions:
        raise ValueError("no lines to train on")
    train_raw, held_raw = split_sessions(sessions, config.holdout)
    tokenizer = LogTokenizer.train((mask_line(t) for ls in train_raw.values() for t in ls), vocab_size=config.vocab_size)
    tokenizer.save(out / TOKENIZER_FILE)
    spec = ModelSpec(vocab_size=tokenizer.vocab_size, n_layer=config.n_layer, n_head=config.n_head,
                     n_embd=config.n_embd, n_ctx=config.n_ctx, max_line_tokens=config.max_line_tokens,
                     session_rule=config.session_rule, mask_version=MASK_VERSION)

    def encode(raw: dict[str, list[str]]) -> list[list[list[int]]]:
        return [tokenizer.encode_lines([mask_line(t) for t in ls], max_tokens=spec.max_line_tokens) for ls in raw.values()]

    train_sessions, held_sessions = encode(chunk_long_sessions(train_raw)), encode(held_raw)
    train_windows = build_windows(train_sessions, spec, tokenizer.bos_id, tokenizer.cont_id)
    val_windows = build_windows(held_sessions, spec, tokenizer.bos_id, tokenizer.cont_id) or train_windows[:64]

    device = pick_device(config.device)
    model = hf_model(spec)
    schedule = Schedule(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                        weight_decay=config.weight_decay, warmup_steps=config.warmup_steps, patience=config.patience,
                        dropout=config.dropout)
    fitted = fit(model, train_windows, val_windows, pad_id=tokenizer.pad_id, schedule=schedule, device=device, rng=rng,
                 on_progress=on_progress)
    best_val, best_state, epochs_run = fitted.best_val, fitted.best_state, fitted.epochs_run
    spec.save(out)
    save_weights(best_state, spec, out, half=config.half_weights)
    seconds = time.time() - started
    summary = {
        "config": asdict(config),
        "sessions": {"train": len(train_raw), "holdout": len(held_raw)},
        "lines": {"train": sum(map(len, train_raw.values())), "holdout": sum(map(len, held_raw.values()))},
        "windows": {"train": len(train_windows), "holdout": len(val_windows)},
        "vocab_size": spec.vocab_size,
        "epochs_run": epochs_run,
        "best_holdout_loss": round(best_val, 4),
        "seconds": round(seconds, 1),
        "torch": torch.__version__,
    }
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return TrainResult(spec, best_val, epochs_run, seconds, train_raw, held_raw)
