"""Start the app: sort out the terminal (a pipe on stdin is not a keyboard), then run.

With ``tail -f x.log | logwatch`` fd 0 is the pipe. Textual reads keys from fd 0, so the pipe
is dup'd to a new fd for the pipeline to read, and the controlling terminal (``/dev/tty``) is
put in its place. With no terminal at all (cron, CI) the app cannot run: say so and point to
``logwatch score``.
"""

from __future__ import annotations

import os
import signal
import sys

from logwatch.core.known_normal import KnownNormal
from logwatch.core.settings import RunSettings

from .pipeline import PipelineConfig

NO_TERMINAL = ("logwatch: no terminal to draw on; the live monitor needs one. "
               "To score a pipe or file headless use `logwatch score` (one JSON object per line).")


def _take_stdin_pipe() -> int | None:
    """Move a piped stdin out of the way and reopen the terminal as fd 0; None if no terminal."""
    try:
        tty = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        return None
    pipe_fd = os.dup(0)
    os.dup2(tty, 0)
    os.close(tty)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - fd 0 stays open for Textual
    return pipe_fd


def run_tui(settings: RunSettings, *, paths: list[str], known_normal: KnownNormal | None = None,
            patterns: list[str] | None = None, problems: list[str] | None = None) -> int:
    """Run the app until the user quits; returns the exit code.

    ``paths`` are the inputs (``-`` = the pipe on stdin), ``patterns`` globs to keep matching,
    ``problems`` what was wrong with inputs left out (shown in the status bar)."""
    replay = settings.replay
    if not os.isatty(sys.__stdout__.fileno() if sys.__stdout__ else 1):
        print(NO_TERMINAL, file=sys.stderr)
        return 2
    fd: int | None = None
    if replay is None and (not paths or "-" in paths):
        if sys.stdin is not None and not sys.stdin.isatty():
            fd = _take_stdin_pipe()
            if fd is None:
                print(NO_TERMINAL, file=sys.stderr)
                return 2
    elif (not sys.stdin or not sys.stdin.isatty()) and _take_stdin_pipe() is None:
        print(NO_TERMINAL, file=sys.stderr)
        return 2
    from .app import LogwatchApp

    config = PipelineConfig(settings, paths=[p for p in paths if p != "-"], fd=fd, patterns=patterns or [],
                            problems=problems or [], known_normal=known_normal)
    app = LogwatchApp(config, theme=settings.theme)
    # SIGTERM: leave like `q` does, so the recording is flushed and the terminal restored.
    signal.signal(signal.SIGTERM, lambda *_: app.call_later(app.exit, 143, 143))
    try:
        code = app.run()
    finally:
        app.pipeline.stop()  # whatever ended the app (a crash too), the pipeline's thread ends with it
    # A crash in the UI leaves run() returning None: return_code then says 1, not success.
    return code or app.return_code or 0
