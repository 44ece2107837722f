"""What every command shares: the one-line error, the input check, opening the engine and the marks.

Heavy imports (torch through the engine) happen inside the functions, so ``logwatch --help``
stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from logwatch.core.escape import MESSAGE_CHARS, printable

if TYPE_CHECKING:
    from logwatch.core.engine import Engine
    from logwatch.core.known_normal import KnownNormal
    from logwatch.core.settings import RunSettings


def say(message: str) -> None:
    """One ``logwatch: …`` line on stderr, escaped: messages carry file names, option values and
    exception text, which may hold escape sequences a terminal would act on (a title set, the
    screen cleared) or a newline that forges a second line."""
    click.echo(f"logwatch: {printable(message, MESSAGE_CHARS)}", err=True)


class LogwatchError(click.ClickException):
    """An expected failure: one ``logwatch: …`` line on stderr, then exit 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        say(self.message)


class UsageError(LogwatchError):
    """Bad input from the user (a missing file, a bad option value): exit 2."""

    exit_code = 2


def usage_error(message: str) -> LogwatchError:
    return UsageError(message)


def exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C (finally blocks run: the recording is flushed and closed)."""
    import signal
    import threading

    def terminate(signum: int, _frame: object) -> None:
        # Leaving has begun: a second SIGTERM must not break off the finally blocks (the
        # recording's close) or the exit handlers with another SystemExit.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, terminate)


def run_settings(options: dict[str, Any]) -> RunSettings:
    """A command's options as one :class:`RunSettings`; a usage error for a value that makes no sense.

    Every option must be a settings field: a flag with no field is a mistake of the command line's."""
    from logwatch.core.settings import RunSettings, SettingsError

    try:
        settings, rest = RunSettings.from_options(options)
    except SettingsError as exc:
        raise usage_error(str(exc)) from None
    if rest:
        raise TypeError(f"options with no settings field: {sorted(rest)}")
    return settings


def check_input(path: str) -> None:
    """A usage error when PATH cannot be read (``-`` is standard input, always fine)."""
    from logwatch.core.ingest import IngestError, open_source_check

    try:
        open_source_check(path)
    except IngestError as exc:
        raise usage_error(str(exc)) from None


def check_record_target(record: str | None, *inputs: str | None) -> None:
    """A usage error when ``--record`` would overwrite what is being read (the log or a replay).

    The recording is created truncated: written onto its own input it would destroy the log,
    and in the monitor a followed recording would feed itself forever. Compared by inode, so a
    symlink or another spelling of the same path is caught too.
    """
    from logwatch.core.merge import identity

    if record is None:
        return
    if record == "-":
        raise usage_error("--record needs a file name (standard output carries the scored lines)")
    for name in inputs:
        if name is None or name == "-":
            continue
        if identity(record) == identity(name):
            raise usage_error(f"--record {click.format_filename(record)!s} is the input being read; "
                              "record to another file")


def check_replay_alone(replay: str | None, *, path: str | None, follow: bool = False) -> None:
    """A usage error for options a replay would silently ignore, or a recording that cannot be read."""
    if replay is None:
        return
    if path is not None:
        raise usage_error(f"--replay plays a recording; it reads no log (drop {click.format_filename(path)!s})")
    if follow:
        raise usage_error("--replay plays a finished recording; --follow does not apply")
    import os

    if not os.path.isfile(replay) or not os.access(replay, os.R_OK):
        why = "no such file" if not os.path.exists(replay) else "not a readable file"
        raise usage_error(f"cannot read recording {click.format_filename(replay)!s}: {why}")


def resolve_input(path: str | None) -> str:
    """PATH, or "-" for a piped stdin; a usage error when there is nothing to read."""
    if path is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise usage_error("no input: give a log file PATH, or pipe lines in (… | logwatch score)")
        path = "-"
    if path == "-" and sys.stdin is None:
        raise usage_error("standard input is closed: give a log file PATH, or pipe lines in")
    check_input(path)
    return path


#: Problems with the inputs told one by one; past this many, the rest are counted in one.
MOST_PROBLEMS = 5


def resolve_inputs(paths: tuple[str, ...], *, record: str | None = None, follow: bool = False,
                   strict: bool = True) -> tuple[list[str], list[str], list[str]]:
    """The inputs to read, the globs to keep matching, and what is wrong with some of them.

    No PATH means a piped stdin. Globs are expanded (``logwatch '/var/log/nova/*.log'``), the
    same file named twice is read once and the recording being written is never read. With
    ``strict`` (``score``: its output must cover every input, so a bad one stops it before the
    first row) any unreadable input is a usage error; otherwise (the monitor) unreadable inputs
    are left out and named in the returned problems, missing ones are waited for, and only
    when nothing at all is left to watch is it an error.
    """
    import os

    from logwatch.core.merge import cap_inputs, expand_inputs, too_many_inputs

    if not paths:
        return [resolve_input(None)], [], []
    if "-" in paths:
        resolve_input("-")
    inputs, patterns = expand_inputs(paths, exclude=[record] if record else [])
    problems: list[str] = []
    if not follow:  # while following, a glob that matches nothing yet waits for its files
        import glob

        for pattern in patterns:
            if not glob.glob(pattern):
                raise usage_error(f"no file matches {click.format_filename(pattern)!s}")
    if strict and len(inputs) > len(cap_inputs(inputs)[0]):
        raise usage_error(too_many_inputs(len(inputs)))
    inputs, cut = cap_inputs(inputs)  # before each is checked: 3,000 matches are not 3,000 checks
    problems.extend([cut] if cut else [])
    kept: list[str] = []
    for name in inputs:
        try:
            check_input(name)
        except LogwatchError as exc:
            if strict or (len(inputs) == 1 and not patterns):
                raise
            if follow and not os.path.lexists(name):
                problems.append(f"{exc.message} (watched in case it appears)")
                kept.append(name)
            else:
                problems.append(exc.message)
            continue
        kept.append(name)
    if not kept and (not patterns or not follow):
        raise usage_error(problems[0] if problems else "no log file to read among the inputs")
    if len(problems) > MOST_PROBLEMS:  # each is a toast in the monitor: a glob of broken links is not hundreds
        problems[MOST_PROBLEMS - 1:] = [f"… and {len(problems) - MOST_PROBLEMS + 1:,} more inputs left out or waited for"]
    return kept, patterns, problems


def load_engine(model_dir: str | None, device: str, session_regex: str | None, **kwargs: Any) -> Engine:
    from logwatch.core.engine import Engine, EngineError

    try:
        return Engine.load(model_dir, device=device, session_regex=session_regex, **kwargs)
    except EngineError as exc:
        raise usage_error(str(exc)) from None


def open_known_normal(option: str | None) -> KnownNormal | None:
    """The ``--known-normal`` store (None when turned off); a broken file is a usage error."""
    from logwatch.core.known_normal import KnownNormalError, open_store

    try:
        return open_store(option)
    except KnownNormalError as exc:
        raise usage_error(str(exc)) from None


def print_listing(rows: list[dict[str, Any]], *, as_json: bool, title: str,
                  columns: list[tuple[str, Callable[[dict[str, Any]], str]]], empty: str = "") -> None:
    """Rows as JSON lines (``--json``) or as a table of Text cells (never markup: the cells come
    from untrusted files), each column a header and what to show of a row."""
    if as_json:
        from logwatch.core.jsonl import dumps

        for row in rows:
            sys.stdout.write(dumps(row) + "\n")
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from logwatch.tui.render import safe_text

    table = Table(title=Text(safe_text(title, 300)), title_justify="left")
    for i, (header, _) in enumerate(columns):  # only the last column folds; the others keep one line
        table.add_column(header, overflow="fold", no_wrap=i < len(columns) - 1)
    for row in rows:
        table.add_row(*(Text(safe_text(cell(row), 300)) for _, cell in columns))
    console = Console(highlight=False)
    console.print(table)
    if not rows and empty:
        console.print(Text(empty))
