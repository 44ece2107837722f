"""What each CLI command does; ``cli.py`` only declares options.

Heavy imports (torch through the engine, textual through the app) happen inside the
functions, so ``logwatch --help`` stays fast.
"""

from __future__ import annotations

import json
import os
import queue
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

BATCH_LINES = 512


class LogwatchError(click.ClickException):
    """An expected failure: one ``logwatch: …`` line on stderr, then exit ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"logwatch: {self.message}", err=True)


def usage_error(message: str) -> LogwatchError:
    return LogwatchError(message, exit_code=2)


# -- input -----------------------------------------------------------------------------
def resolve_input(path: str | None) -> str:
    """PATH, or "-" for a piped stdin; a usage error when there is nothing to read."""
    from logwatch.core.ingest import IngestError, open_source_check

    if path is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise usage_error("no input: give a log file PATH, or pipe lines in (… | logwatch score)")
        path = "-"
    try:
        open_source_check(path)
    except IngestError as exc:
        raise usage_error(str(exc)) from None
    return path


def line_batches(path: str, *, follow: bool = False) -> Iterator[list]:
    """Batches of LogLines from a file, a followed file, or stdin; never holds a whole file.

    A quiet stream yields an empty batch every half second, so the caller can close idle
    sessions (and judge them, with ``--session-ends``) while nothing arrives."""
    from logwatch.core.ingest import IngestError, LineReader, read_lines

    if path != "-" and not follow:
        batch: list = []
        try:
            for line in read_lines(path):
                batch.append(line)
                if len(batch) >= BATCH_LINES:
                    yield batch
                    batch = []
        except IngestError as exc:
            raise LogwatchError(str(exc)) from None
        if batch:
            yield batch
        return
    # Pipes and followed files: a reader thread delivers whatever arrived every 50 ms, so
    # output keeps pace with a live stream instead of waiting for a full buffer.
    inbox: queue.Queue = queue.Queue(maxsize=64)
    done = object()
    errors: list[str] = []
    reader = LineReader(path, inbox.put, follow=follow, batch_lines=BATCH_LINES,
                        on_error=errors.append, on_eof=lambda: inbox.put(done))
    reader.start()
    try:
        while True:
            try:
                item = inbox.get(timeout=0.5)
            except queue.Empty:
                if errors:
                    raise LogwatchError(errors[0])
                if not reader.is_alive():
                    return
                yield []
                continue
            if item is done:
                return
            yield item
    finally:
        reader.stop()


def load_engine(model_dir: str | None, device: str, session_regex: str | None, **kwargs: Any):
    from logwatch.core.engine import Engine, EngineError

    try:
        return Engine.load(model_dir, device=device, session_regex=session_regex, **kwargs)
    except EngineError as exc:
        raise usage_error(str(exc)) from None


def open_known_normal(option: str | None) -> Any:
    """The ``--known-normal`` store (None when turned off); a broken file is a usage error."""
    from logwatch.core.known_normal import KnownNormalError, open_store

    try:
        return open_store(option)
    except KnownNormalError as exc:
        raise usage_error(str(exc)) from None


def run_marks(*, known_normal: str | None, remove: tuple[int, ...], as_json: bool) -> None:
    """``logwatch marks``: the known-normal file as a numbered list; ``--remove N`` drops marks."""
    from logwatch.core.known_normal import KnownNormalError
    from logwatch.core.masking import mask_line

    store = open_known_normal(known_normal)
    if store is None:
        raise usage_error("--known-normal none: there is no file to list")
    if remove:
        try:
            dropped = store.remove(remove)
            store.save()
        except KnownNormalError as exc:
            raise usage_error(str(exc)) from None
        print(f"removed {len(dropped)} mark(s); {len(store.marks)} left in {store.path}", file=sys.stderr)
    rows = [{"n": i, "marked": m.marked, "session": m.session, "pattern": mask_line(m.text), "text": m.text}
            for i, m in enumerate(store.marks, 1)]
    if as_json:
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from .render import safe_text, short_session

    # Text cells, never markup: a marked line is untrusted and may hold "[bold]" or escapes.
    table = Table(title=Text(f"{len(rows)} line pattern(s) marked normal ({safe_text(str(store.path))})"),
                  title_justify="left")
    for column in ("#", "marked (UTC)", "session", "pattern"):
        table.add_column(column, overflow="fold", no_wrap=column != "pattern")
    for row in rows:
        table.add_row(*(Text(cell) for cell in (str(row["n"]), row["marked"][:19], safe_text(short_session(row["session"]), 24),
                                                 safe_text(row["pattern"], 300))))
    Console(highlight=False).print(table)


def _open_recording(path: str | None, engine) -> Any:
    if path is None:
        return None
    from logwatch.core.record import RecordingWriter

    try:
        return RecordingWriter(path, model=engine.model_name, threshold=engine.threshold)
    except OSError as exc:
        raise usage_error(f"cannot write recording {path}: {exc.strerror or exc}") from None


# -- score -----------------------------------------------------------------------------
def run_score(*, path: str | None, model_dir: str | None, device: str, session_regex: str | None, precision: str = "auto",
              follow: bool, replay: str | None, record: str | None, fail_on_alert: bool, tokens: bool,
              known_normal: str | None = None, session_ends: bool = False, idle_seconds: float = 900.0) -> None:
    out = sys.stdout
    alerted = False
    if session_ends and replay is not None:
        raise usage_error("--session-ends judges sessions while scoring; a --replay only prints what was recorded")

    def emit(lines: list) -> None:
        nonlocal alerted
        for scored in lines:
            obj = scored.to_json_dict()
            if tokens and hasattr(scored, "tokens"):
                obj["tokens"] = [[piece, round(loss, 3)] for piece, loss in scored.tokens]
            alerted = alerted or scored.alert
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        out.flush()

    _exit_on_sigterm()
    try:
        if replay is not None:
            emit_replay(replay, emit)
        else:
            source = resolve_input(path)
            engine = load_engine(model_dir, device, session_regex, precision=precision,
                                 known_normal=open_known_normal(known_normal), session_ends=session_ends,
                                 idle_seconds=idle_seconds)
            writer = _open_recording(record, engine)
            try:
                for batch in line_batches(source, follow=follow):
                    scored = engine.score_batch(batch)  # an empty batch (a quiet stream) scores nothing
                    if writer is not None:
                        writer.write(scored)
                    emit(scored)
                    engine.evict_idle()
                    emit(engine.take_ended())
                if session_ends:  # the input is over: every session still open has ended
                    engine.close_all()
                    emit(engine.take_ended())
            finally:
                if writer is not None:
                    writer.close()
    except KeyboardInterrupt:
        out.flush()
        raise SystemExit(130) from None
    except BrokenPipeError:
        # Downstream closed (… | head): stop quietly, like other Unix filters.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(0) from None
    if fail_on_alert and alerted:
        raise SystemExit(1)


def _exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C (finally blocks run: the recording is flushed and closed)."""
    import signal
    import threading

    def terminate(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, terminate)


def emit_replay(path: str, emit) -> None:
    from logwatch.core.record import RecordingError, read_recording

    try:
        _header, records = read_recording(path, on_warning=lambda w: click.echo(f"logwatch: warning: {w}", err=True))
        batch: list = []
        for scored in records:
            batch.append(scored)
            if len(batch) >= BATCH_LINES:
                emit(batch)
                batch = []
        emit(batch)
    except RecordingError as exc:
        raise usage_error(str(exc)) from None


# -- train / calibrate -----------------------------------------------------------------
def read_all_lines(files: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(source, text) of every line of FILES, checking each file first."""
    from logwatch.core.ingest import IngestError, open_source_check, read_lines

    for name in files:
        try:
            open_source_check(name)
        except IngestError as exc:
            raise usage_error(str(exc)) from None
    for name in files:
        try:
            for line in read_lines(name):
                yield name, line.text
        except IngestError as exc:
            raise LogwatchError(str(exc)) from None


def run_train(*, files: tuple[str, ...], out_dir: str, epochs: int, seed: int, vocab_size: int, batch_size: int,
              lr: float, holdout: float, max_fpr: float, min_lines: int, half: bool, device: str,
              session_regex: str | None, session_check: bool = False) -> None:
    from logwatch.core.sessions import SessionRuleError, compile_session_regex

    if session_regex is not None:
        try:
            compile_session_regex(session_regex)
        except SessionRuleError as exc:
            raise usage_error(str(exc)) from None
    lines = list(read_all_lines(files))
    if not lines:
        raise usage_error("the training files hold no lines")
    from .progress import train_with_progress

    train_with_progress(lines, out_dir, epochs=epochs, seed=seed, vocab_size=vocab_size, batch_size=batch_size,
                        lr=lr, holdout=holdout, max_fpr=max_fpr, min_lines=min_lines, half=half, device=device,
                        session_rule=session_regex or "builtin", session_check=session_check)


def score_files(engine, files: tuple[str, ...]) -> Iterator:
    """Score every line of FILES with one engine (one session table across files)."""
    from logwatch.core.types import LogLine

    batch: list = []
    n = 0
    for source, text in read_all_lines(files):
        n += 1
        batch.append(LogLine(n=n, text=text, source=source, arrival=0.0))
        if len(batch) >= BATCH_LINES:
            yield from engine.score_batch(batch)
            batch = []
    if batch:
        yield from engine.score_batch(batch)


def run_calibrate(*, files: tuple[str, ...], model_dir: str | None, device: str, session_regex: str | None,
                  max_fpr: float, min_lines: int, method: str, dry_run: bool) -> None:
    from logwatch.core.calibrate import calibrate, session_losses

    engine = load_engine(model_dir, device, session_regex)
    if not dry_run and not os.access(engine.loaded.directory, os.W_OK):
        raise usage_error(f"cannot write to {engine.loaded.directory}; pass --model DIR or --dry-run")
    engine.threshold = None
    losses = session_losses(score_files(engine, files))
    try:
        result = calibrate(losses, method=method, max_fpr=max_fpr, min_lines=min_lines,
                           details={"files": [Path(f).name for f in files]})
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    if not dry_run:
        result.save(engine.loaded.directory)
    click.echo(json.dumps({"line_threshold": result.line_threshold, "min_lines": result.min_lines,
                           "method": result.method, "normal_sessions": result.normal_sessions,
                           "flagged_sessions": result.flagged_sessions,
                           "written": None if dry_run else str(engine.loaded.directory)}, indent=2))


def run_eval(**kwargs: Any) -> None:
    from .evaluate import run_eval as _run

    _run(**kwargs)


# -- watch -----------------------------------------------------------------------------
def run_watch(*, path: str | None, replay: str | None, record: str | None, speed: float, theme: str,
              model_dir: str | None, device: str, session_regex: str | None, precision: str = "auto",
              known_normal: str | None = None, session_ends: bool = False) -> None:
    if replay is None and path is not None and path != "-":
        from logwatch.core.ingest import IngestError, open_source_check

        try:
            open_source_check(path)
        except IngestError as exc:
            raise usage_error(str(exc)) from None
    if replay is None and path is None and (sys.stdin is None or sys.stdin.isatty()):
        raise usage_error("no input: give a log file PATH, pipe lines in (tail -f x.log | logwatch), or --replay REC")
    store = open_known_normal(known_normal)
    from .launch import run_tui

    code = run_tui(path=path, replay=replay, record=record, model_dir=model_dir, device=device, theme=theme,
                   session_regex=session_regex, speed=speed, precision=precision, known_normal=store,
                   session_ends=session_ends)
    if code:
        raise SystemExit(code)
