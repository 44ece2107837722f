"""What every command shares: the one-line error, the input check, opening the engine and the marks.

Heavy imports (torch through the engine) happen inside the functions, so ``logwatch --help``
stays fast.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from logwatch.core.engine import Engine
    from logwatch.core.known_normal import KnownNormal


class LogwatchError(click.ClickException):
    """An expected failure: one ``logwatch: …`` line on stderr, then exit 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"logwatch: {self.message}", err=True)


class UsageError(LogwatchError):
    """Bad input from the user (a missing file, a bad option value): exit 2."""

    exit_code = 2


def usage_error(message: str) -> LogwatchError:
    return UsageError(message)


def check_input(path: str) -> None:
    """A usage error when PATH cannot be read (``-`` is standard input, always fine)."""
    from logwatch.core.ingest import IngestError, open_source_check

    try:
        open_source_check(path)
    except IngestError as exc:
        raise usage_error(str(exc)) from None


def resolve_input(path: str | None) -> str:
    """PATH, or "-" for a piped stdin; a usage error when there is nothing to read."""
    if path is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise usage_error("no input: give a log file PATH, or pipe lines in (… | logwatch score)")
        path = "-"
    check_input(path)
    return path


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
