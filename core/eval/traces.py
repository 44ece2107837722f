"""What evaluation keeps of a scored, labelled log: per-session traces and the ground truth.

:func:`score_sessions` runs the engine over FILES exactly as ``logwatch score`` would and keeps,
per labelled session, its line losses, where it first alerted, its mix of masked lines and its
surprising lines (what a simulated operator reviews, :mod:`.feedback`). The ground truth beside
the labels (where each incident's first anomalous line is) is read here too.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..alerts import is_error_level
from ..escape import describe
from ..ingest import IngestError, open_source_check, read_lines
from ..jsonl import loads
from ..parse import timestamp_seconds
from ..sessions import EntryKeys
from ..stream import BATCH_LINES
from ..types import LogLine

if TYPE_CHECKING:
    from ..engine import Engine


class EvalError(ValueError):
    """Bad evaluation input (labels, incidents, files); the message is one line for the user."""


# -- ground truth besides the labels ------------------------------------------------------------
def incidents_path(log: str | Path) -> Path | None:
    """``x.incidents.json`` (or ``x.log.incidents.json``) beside log ``x.log``, if present."""
    log = Path(log)
    for candidate in (log.with_suffix(".incidents.json"), log.with_name(log.name + ".incidents.json")):
        if candidate.is_file():
            return candidate
    return None


def read_incidents(path: str | Path) -> dict[str, tuple[int, float | None]]:
    """session -> (1-based line number of its first anomalous line, its time in seconds or None).

    Format (written by the generator): a JSON list of objects with ``session``,
    ``first_line`` and optionally ``ts``. A session with several incidents keeps the earliest.
    """
    path = Path(path)
    try:
        data = loads(path.read_text(encoding="utf-8"))  # strict: NaN or deep nesting is damage
    except (OSError, ValueError) as exc:
        raise EvalError(f"cannot read incidents file {path}: {describe(exc)}") from None
    if not isinstance(data, list):
        raise EvalError(f"{path}: expected a JSON list of incidents")
    out: dict[str, tuple[int, float | None]] = {}
    for i, item in enumerate(data):
        try:
            session, line = str(item["session"]), int(item["first_line"])
        except (KeyError, TypeError, ValueError):
            raise EvalError(f"{path}: incident {i} needs a session and an integer first_line") from None
        if line < 1:
            raise EvalError(f"{path}: incident {i} has first_line {line} (lines count from 1)")
        if session not in out or line < out[session][0]:
            out[session] = (line, timestamp_seconds(item.get("ts")))
    return out


def first_anomalous_from_lines(sessions: Iterable[tuple[str, int, bool, float | None]]) -> dict[str, tuple[int, float | None]]:
    """Per session, the first line labelled anomalous, from (session, global line, anomalous, seconds) rows."""
    out: dict[str, tuple[int, float | None]] = {}
    for session, n, anomalous, when in sessions:
        if anomalous and session not in out:
            out[session] = (n, when)
    return out


# -- scoring -------------------------------------------------------------------------------------
@dataclass
class SessionTrace:
    """What evaluation keeps per labelled session: losses, where it first alerted, its line mix."""

    key: str
    lines: int = 0
    losses: list[float] = field(default_factory=list)
    first_alert: tuple[int, float | None] | None = None
    """(global line number, time in seconds or None) of the engine's first alert in the session."""
    last_line: tuple[int, float | None] = (0, None)
    templates: Counter[str] = field(default_factory=Counter)
    """Masked line -> count: the session's count vector (for the session check and baselines)."""
    surprising: list[tuple[int, str]] = field(default_factory=list)
    """(global line number, masked text) of each line that alerts or whose loss is over the line
    threshold, marked normal or not: what a simulated operator reviews (:mod:`.feedback`)."""
    error_lines: int = 0
    """Lines at ERROR level or above (or tracebacks): the "any ERROR line" baseline."""


@dataclass
class ScoredLog:
    """Traces of every labelled session in FILES, and how the files were numbered."""

    sessions: dict[str, SessionTrace]
    offsets: dict[str, int]
    """File -> number of lines in the files before it: global line = offset + line in file."""
    lines_read: int
    lines_scored: int
    seconds: float


def check_files(files: Sequence[str]) -> None:
    for name in files:
        try:
            open_source_check(name)
        except IngestError as exc:
            raise EvalError(str(exc)) from None
        if name == "-":
            raise EvalError("eval reads files, not standard input: labels refer to whole logs")


def score_sessions(engine: Engine, files: Sequence[str], keep: Container[str] | None = None, *,
                   templates: bool = True, on_progress: Callable[[int], None] | None = None) -> ScoredLog:
    """Score FILES in order with one engine; trace only sessions in ``keep`` (None = all).

    Lines of other sessions are not even fed to the model (they could not change the traced
    sessions' losses). ``templates`` keeps each session's masked-line counts.
    """
    check_files(files)
    threshold = math.inf if engine.threshold is None else float(engine.threshold)
    traces: dict[str, SessionTrace] = {}
    offsets: dict[str, int] = {}
    offset = read = scored = 0
    started = time.perf_counter()

    def flush(batch: list[LogLine]) -> None:
        nonlocal scored
        for line in engine.score_batch(batch):
            trace = traces.get(line.session)
            if trace is None:
                trace = traces[line.session] = SessionTrace(line.session)
            global_n = offsets[line.source] + line.n
            when = timestamp_seconds(line.ts)
            trace.lines += 1
            trace.last_line = (global_n, when)
            if line.loss is not None:
                trace.losses.append(line.loss)
            if line.alert and trace.first_alert is None:
                trace.first_alert = (global_n, when)
            if is_error_level(line.level, line.text):
                trace.error_lines += 1
            masked = line.pattern if templates or line.alert or (
                line.loss is not None and line.loss > threshold) else ""
            # What an operator would review: what alerts, and what would alert but for a mark
            # (over the bar the rule sets for its pattern, known patterns' margin included).
            bar = engine.rule.surprise_bar(masked) if masked else None
            over = line.alert or (line.loss is not None and bar is not None and line.loss > bar
                                  and not line.order_only)
            if templates:
                trace.templates[masked] += 1
            if over:
                trace.surprising.append((global_n, masked))
        scored += len(batch)

    entries = EntryKeys(engine.keyer)  # keys as the engine will see the kept lines (multi-line entries whole)
    for name in files:
        offsets[name] = offset
        batch: list[LogLine] = []
        count = 0
        try:
            for line in read_lines(name):
                count += 1
                if keep is not None and entries.key(line.text, line.source) not in keep:
                    continue
                batch.append(line)
                if len(batch) >= BATCH_LINES:
                    flush(batch)
                    batch = []
                    if on_progress:
                        on_progress(read + count)
        except IngestError as exc:
            raise EvalError(str(exc)) from None
        if batch:
            flush(batch)
        read += count
        offset += count
    if on_progress:
        on_progress(read)
    return ScoredLog(traces, offsets, read, scored, time.perf_counter() - started)
