"""Learn the log being watched: adapt a model to it in about a minute, without learning the incident.

The recipe (measured on real logs, docs/EVALUATION.md §6):

1. **What to learn from.** The window's lines, keyed into sessions as the model keys them, minus
   the lines that may be the incident: error-level lines and tracebacks whose pattern is rare in
   the window (under ``rare_error_share`` of its lines), and rare warnings that began partway
   through it, with their sessions when those are short. A pattern that is routine in the
   window (BGL's FATAL interrupts) is this log's normal and stays; lines the operator marked
   normal always stay.
2. **Tokenizer.** A new byte-level BPE on the window's masked lines, each placeholder ending the
   phrase before it (real nova lines then cost about 5.5 tokens instead of 14; HDFS lines 4
   instead of 45), with the base model's
   embeddings transferred: a new token that is an old one keeps its row, any other gets the
   mean of the old rows of the old tokenizer's pieces of its text (fast vocabulary transfer).
   The transformer body and position embeddings are the base model's.
3. **Budget in tokens, not epochs:** at most ``token_budget`` training tokens, the cosine
   schedule sized to them; and ``max_seconds`` of wall time for the whole learning, so a slow
   machine trains fewer steps, on time.
4. **Threshold** on the held-out part of the window (:mod:`.threshold`): the larger of the
   99.9th percentile of held-out line losses (a line budget, which one long or unkeyed session
   cannot skew) and the 1% session budget with long sessions counted per 64 lines.

The result is a model in memory (:class:`~logwatch.core.model.LoadedModel`); :mod:`.memory`
saves it so the next run on the same log starts from it.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import NamedTuple

import torch

from ..alerts import WARNING_LEVELS, is_error_level
from ..known_normal import KnownNormal
from ..masking import MASK_VERSION, masked_line
from ..model import LoadedModel, expected_shapes, hf_model, pick_device
from ..parse import parse_line
from ..sessions import is_continuation
from ..settings import LEARN_SECONDS
from ..spec import LEARNED_SLIDE_KEEP, ModelSpec, session_pairs
from ..tokenizer import LogTokenizer
from ..train import (
    BATCH_WINDOWS,
    LONG_SESSION_LINES,
    Progress,
    Schedule,
    Windows,
    build_windows,
    chunk_long_sessions,
    fit,
    group_sessions,
    split_sessions,
)
from .threshold import calibrate_learned

#: Seconds the threshold's two passes (fp32, int8 check) take per held-out line, set aside from
#: ``max_seconds`` (measured: 1,800 HDFS lines in about 1 s on the 2-core test machine, doubled).
CALIBRATION_SECONDS_PER_LINE = 0.001
#: Seconds the fit gets even when the window's preparation used up the budget.
MIN_FIT_SECONDS = 5.0


class LearnError(ValueError):
    """The window cannot be learned from; the message says why (the model stays as it was)."""


@dataclass(frozen=True)
class LearnConfig:
    """How a log is learned; every default was measured (docs/EVALUATION.md §6)."""

    token_budget: int = 150_000
    """Training tokens at most: about 30 s on two free laptop cores."""
    tokens_per_line: int = 20
    """...and at most this many per usable line, so a short window is not trained for long: 20
    instead of 40 halved the learning of 2,000-line Loghub windows (OpenStack 30.5 -> 13.3 s) with
    the same alerts on OpenStack, BGL and Thunderbird, and on HDFS_2k 4 blocks, all anomalous,
    where 40 alerted 10, 6 anomalous (docs/EVALUATION.md §6)."""
    max_seconds: float = LEARN_SECONDS
    """Wall time of the whole learning at most: tokenizer, training and threshold. The training
    gets what the rest leaves, and a slow or busy machine trains fewer steps, not for longer."""
    dropout: float = 0.0
    """None: a few epochs over the window do not overfit it, and dropout cost a fifth of each
    step (Loghub OpenStack_2k: 333 steps in 28.9 s instead of 37.7 s, the same alerts)."""
    lr: float = 1e-3
    batch_size: int = BATCH_WINDOWS
    min_steps: int = 150
    """A window giving fewer steps per epoch than this trains with half-size batches (HDFS: 338 windows)."""
    warmup_steps: int = 20
    max_epochs: int = 12
    holdout: float = 0.15
    vocab_size: int = 2048
    attach_placeholders: bool = True
    """A placeholder ends the phrase token before it (:meth:`LogTokenizer.train`): real lines
    cost about half the tokens, so they score about 1.6x faster, with the same detection."""
    slide_keep: int = LEARNED_SLIDE_KEEP
    """Tokens a window keeps when it slides (:attr:`ModelSpec.slide_keep`): less to re-read on long sessions."""
    start_stride: int = 4
    """Long sessions also open a short sample every this many lines (:func:`chunk_long_sessions`)."""
    rare_error_share: float = 0.005
    """An error-level pattern under this share of the window's lines may be the incident: left out."""
    rare_warnings: bool = True
    """Treat rare WARNING patterns that first appear after ``late_share`` of the window like rare
    errors (an incident's storm of warnings is not learned; a periodic task's warning is)."""
    late_share: float = 0.25
    line_quantile: float = 0.999
    max_fpr: float = 0.01
    min_lines: int = 200
    """Fewer usable lines than this: nothing is learned."""
    max_distinct_share: float = 0.9
    """A window whose lines almost never repeat (random or binary data) is not learned."""
    max_error_share: float = 0.6
    """...nor one mostly made of error lines (BGL, whose FATAL lines are routine, has 44%)."""
    seed: int = 0


@dataclass
class Learned:
    """A model adapted to a log, and what was done to get it."""

    model: LoadedModel
    summary: dict[str, object] = field(default_factory=dict)

    @property
    def lines_learned(self) -> int:
        """How many lines of the window were learned from (its usable lines)."""
        usable = self.summary.get("usable_lines")
        return usable if isinstance(usable, int) else 0


#: How much of a learned error pattern the summary quotes.
ERROR_EXAMPLE_CHARS = 160


def usable_sessions(texts: Sequence[tuple[str, str]], rule: str, config: LearnConfig,
                    known_normal: KnownNormal | None = None) -> tuple[dict[str, list[str]], dict[str, int]]:
    """The window's sessions without what may be the incident; and counts of what was left out."""
    patterns = [masked_line(parse_line(text)) for _, text in texts]
    pattern_of = dict(zip((text for _, text in texts), patterns))  # the same text, the same pattern
    counts = Counter(patterns)
    rare = max(1.0, config.rare_error_share * len(texts))
    late = len(texts) * config.late_share
    suspect: set[str] = set()
    seen: set[str] = set()
    for i, ((_, text), pattern) in enumerate(zip(texts, patterns)):
        first = pattern not in seen
        seen.add(pattern)
        if not first or counts[pattern] > rare or (known_normal is not None and pattern in known_normal):
            continue
        parsed = parse_line(text)
        # A rare error is left out wherever it starts; a rare warning only if it started partway
        # through (an incident's storm), not if it was there from the start (a periodic task's).
        warning = config.rare_warnings and parsed.level is not None and parsed.level in WARNING_LEVELS and i >= late
        if warning or is_error_level(parsed.level, parsed.message):
            suspect.add(pattern)
    sessions = group_sessions(texts, rule)
    kept: dict[str, list[str]] = {}
    dropped_lines = dropped_sessions = 0
    for key, lines in sessions.items():
        bad = _left_out(lines, suspect, pattern_of)
        if not any(bad):
            kept[key] = lines
        elif len(lines) <= LONG_SESSION_LINES and not key.startswith("<unkeyed:"):
            # a short session with an error: the whole story may be the incident (a source's
            # unkeyed lines are no story, only the suspect lines go)
            dropped_sessions += 1
            dropped_lines += len(lines)
        else:
            kept[key] = [t for t, b in zip(lines, bad) if not b]
            dropped_lines += sum(bad)
    return kept, {"lines_left_out": dropped_lines, "sessions_left_out": dropped_sessions,
                  "error_patterns_left_out": len(suspect)}


def session_patterns(sessions: dict[str, list[str]]) -> tuple[list[list[str]], Counter[str]]:
    """Each session's patterns (masked lines) in order, and the error-level ones among them with
    how many lines each: what the model learns, and which errors it learns as normal."""
    masked: list[list[str]] = []
    errors: Counter[str] = Counter()
    for lines in sessions.values():
        patterns: list[str] = []
        for text in lines:
            parsed = parse_line(text)
            patterns.append(masked_line(parsed))
            if is_error_level(parsed.level, parsed.message):
                errors[patterns[-1]] += 1
        masked.append(patterns)
    return masked, errors


def _left_out(lines: Sequence[str], suspect: set[str], pattern_of: dict[str, str]) -> list[bool]:
    """Which of a session's lines go: the suspect ones, each with the rest of its entry (the
    lines that continue it, :func:`~logwatch.core.sessions.is_continuation`). Left behind, a
    traceback's source lines (``    filter_properties)``) would be held out as normal; on a log
    of multi-line entries they set the learned threshold. ``pattern_of``: each text's pattern."""
    out: list[bool] = []
    dropping = False
    for text in lines:
        if pattern_of[text] in suspect:
            dropping = True
        elif not (dropping and is_continuation(text)):
            dropping = False
        out.append(dropping)
    return out


def transfer_embeddings(base: LoadedModel, tokenizer: LogTokenizer) -> torch.Tensor:
    """Embedding rows for ``tokenizer``'s vocabulary, built from the base model's (fast vocabulary transfer)."""
    old_tok = base.tokenizer
    old_wte = base.weights["transformer.wte.weight"]  # [V_old, E]
    old_vocab = old_tok.vocab()
    new_vocab = tokenizer.vocab()
    rows = torch.empty((tokenizer.vocab_size, old_wte.shape[1]), dtype=old_wte.dtype)
    mean = old_wte.mean(dim=0)
    for piece, new_id in new_vocab.items():
        old_id = old_vocab.get(piece)
        if old_id is not None:
            rows[new_id] = old_wte[old_id]
            continue
        ids = old_tok.encode_text(tokenizer.decode([new_id]))
        rows[new_id] = old_wte[ids].mean(dim=0) if ids else mean
    return rows


class _Window(NamedTuple):
    """A learning window's usable sessions, and what the recipe reads of them."""

    kept: dict[str, list[str]]
    """Session -> its usable lines (what may be the incident left out)."""
    left_out: dict[str, int]
    """Counts of what was left out (:func:`usable_sessions`)."""
    masked: list[list[str]]
    """Each kept session's patterns, in order."""
    patterns: list[str]
    """Every kept line's pattern."""
    errors: Counter[str]
    """Error-level patterns kept, learned as normal, with their lines."""

    @property
    def usable(self) -> int:
        return len(self.patterns)


def _usable_window(texts: Sequence[tuple[str, str]], rule: str, config: LearnConfig,
                   known_normal: KnownNormal | None) -> _Window:
    """What the window offers to learn; LearnError if it is too little, mostly errors, or lines
    that hardly repeat."""
    kept, left_out = usable_sessions(texts, rule, config, known_normal)
    usable = sum(map(len, kept.values()))
    if usable < config.min_lines:
        what = "after leaving out error-level lines" if left_out["lines_left_out"] else "in all"
        raise LearnError(f"too few lines to learn from: {usable} usable {what} (at least {config.min_lines})")
    # Error lines kept are learned as this log's normal: frequent ones are its routine (BGL's
    # FATAL lines), or an incident in full swing when learning began. The summary names them.
    masked, learned_errors = session_patterns(kept)  # per session, in order
    errors = sum(learned_errors.values())
    if errors > config.max_error_share * usable:
        raise LearnError(f"{errors / usable:.0%} of the usable lines are errors: learning them would learn an "
                         "incident as normal")
    patterns = [pattern for session in masked for pattern in session]
    distinct = len(set(patterns)) / len(patterns)
    if distinct > config.max_distinct_share:
        raise LearnError(f"the lines hardly repeat ({distinct:.0%} of them are distinct even with ids masked): "
                         "nothing to learn as normal (binary or random data?)")
    return _Window(kept, left_out, masked, patterns, learned_errors)


def _held_out(kept: dict[str, list[str]], holdout: float) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The sessions trained on and those held out to set the threshold on; LearnError if none are left."""
    train_raw, held_raw = split_sessions(kept, holdout)
    if not held_raw:  # one or a few streams (unkeyed logs): the tail of each is held out instead
        train_raw, held_raw = {}, {}
        for key, lines in kept.items():
            cut = len(lines) - max(1, round(len(lines) * holdout)) if len(lines) > 1 else len(lines)
            train_raw[key], held_raw[key] = lines[:cut], lines[cut:]
        held_raw = {k: v for k, v in held_raw.items() if v}
    if not held_raw or not any(train_raw.values()):
        raise LearnError("no lines left to set the threshold on")
    return train_raw, held_raw


def _transferred(base: LoadedModel, train_raw: dict[str, list[str]],
                 config: LearnConfig) -> tuple[LogTokenizer, ModelSpec, dict[str, torch.Tensor]]:
    """A tokenizer trained on the lines to learn, and the base model's spec and weights moved onto
    its vocabulary (:func:`transfer_embeddings`)."""
    tokenizer = LogTokenizer.train((masked_line(parse_line(t)) for ls in train_raw.values() for t in ls),
                                   vocab_size=config.vocab_size,
                                   attach_placeholders=config.attach_placeholders)
    spec = replace(base.spec, vocab_size=tokenizer.vocab_size, mask_version=MASK_VERSION,
                   slide_keep=min(config.slide_keep, base.spec.most_keep_tokens))
    weights = dict(base.weights)
    weights["transformer.wte.weight"] = transfer_embeddings(base, tokenizer)
    return tokenizer, spec, weights


def _schedule(config: LearnConfig, train_windows: Windows, usable: int, held_lines: int, started: float) -> Schedule:
    """The fit's schedule: the token budget (at most ``tokens_per_line`` per usable line) as
    steps, and the wall time left of ``max_seconds`` after the time spent so far and the
    calibration's estimated share (two passes over the held-out lines)."""
    batch = config.batch_size if len(train_windows) / config.batch_size >= config.min_steps else config.batch_size // 2
    epoch_tokens = max(1, sum(len(ids) for ids, _ in train_windows))
    budget = min(config.token_budget, config.tokens_per_line * usable)
    steps_per_epoch = math.ceil(len(train_windows) / batch)
    epochs = max(1, min(config.max_epochs, math.ceil(budget / epoch_tokens)))
    max_steps = max(1, min(epochs * steps_per_epoch, round(budget / epoch_tokens * steps_per_epoch)))
    seconds_left = config.max_seconds - (time.time() - started) - CALIBRATION_SECONDS_PER_LINE * held_lines
    return Schedule(epochs=epochs, batch_size=batch, lr=config.lr, warmup_steps=config.warmup_steps,
                    patience=config.max_epochs, dropout=config.dropout, max_steps=max_steps,
                    max_seconds=max(MIN_FIT_SECONDS, seconds_left))


def learn(base: LoadedModel, texts: Sequence[tuple[str, str]], *, config: LearnConfig | None = None,
          known_normal: KnownNormal | None = None, label: str | None = None,
          on_progress: Callable[[Progress], None] | None = None,
          should_stop: Callable[[], bool] | None = None, started: float | None = None) -> Learned:
    """Adapt ``base`` to the (source, text) lines of a learning window; LearnError if it cannot be done.

    ``started``: when the learning began (``time.time()``), if before this call: the child process
    counts its own start-up, importing torch, against ``max_seconds``."""
    config = config or LearnConfig()
    started = time.time() if started is None else min(started, time.time())
    window = _usable_window(texts, base.spec.session_rule, config, known_normal)
    train_raw, held_raw = _held_out(window.kept, config.holdout)
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)  # before the model is made: the same window learns the same model
    tokenizer, spec, weights = _transferred(base, train_raw, config)
    model = hf_model(spec, weights)

    def encode(raw: dict[str, list[str]]) -> list[list[list[int]]]:
        return [tokenizer.encode_lines([masked_line(parse_line(t)) for t in ls], max_tokens=spec.max_line_tokens)
                for ls in raw.values()]

    train_windows = build_windows(encode(chunk_long_sessions(train_raw, start_stride=config.start_stride)), spec,
                                  tokenizer.bos_id, tokenizer.cont_id)
    val_windows = build_windows(encode(held_raw), spec, tokenizer.bos_id, tokenizer.cont_id)
    schedule = _schedule(config, train_windows, window.usable, sum(map(len, held_raw.values())), started)
    fitted = fit(model, train_windows, val_windows, pad_id=tokenizer.pad_id, schedule=schedule,
                 device=pick_device("auto"), rng=rng, on_progress=on_progress, should_stop=should_stop)
    trained_weights = {name: fitted.best_state[name].float() for name in expected_shapes(spec)}
    learned = LoadedModel(base.directory, spec, tokenizer, trained_weights, None, Counter(window.patterns), label,
                          pattern_pairs=frozenset(session_pairs(window.masked)))
    calibration = calibrate_learned(learned, held_raw, max_fpr=config.max_fpr, line_quantile=config.line_quantile)
    learned.calibration = calibration
    summary: dict[str, object] = {
        "base_model": base.name, "window_lines": len(texts), "usable_lines": window.usable, **window.left_out,
        "error_patterns_learned": len(window.errors),
        "errors_learned": [[pattern[:ERROR_EXAMPLE_CHARS], n] for pattern, n in window.errors.most_common(3)],
        "train_sessions": len(train_raw), "held_out_sessions": len(held_raw),
        "tokens_per_line": {"base": round(_tokens_per_line(base.tokenizer, window.patterns, spec), 2),
                            "learned": round(_tokens_per_line(tokenizer, window.patterns, spec), 2)},
        "vocab_size": tokenizer.vocab_size, "steps": fitted.steps, "epochs_run": fitted.epochs_run,
        "tokens": fitted.tokens, "stopped_early": fitted.stopped_early, "planned_steps": fitted.planned_steps,
        "held_out_loss": round(fitted.best_val, 4), "line_threshold": calibration.line_threshold,
        "seconds": round(time.time() - started, 1), "config": asdict(config),
    }
    return Learned(learned, summary)


def _tokens_per_line(tokenizer: LogTokenizer, masked: Sequence[str], spec: ModelSpec, sample: int = 2000) -> float:
    lines = list(masked[:sample])
    if not lines:
        return 0.0
    return sum(len(ids) for ids in tokenizer.encode_lines(lines, max_tokens=spec.max_line_tokens)) / len(lines)

