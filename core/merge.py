"""Several logs read as one: the files' history merged by time, then every new line as it arrives.

:class:`MergedReader` is :class:`~logwatch.core.reader.LineReader`'s twin for more than one
input (or a glob): the same thread, the same callbacks, lines numbered across all inputs. What
the files already hold when they are opened is merged by the lines' own timestamps
(:mod:`.timeline`); after that, while following, lines go out in the order they arrive, each
file followed through rotation and truncation by its own
:class:`~logwatch.core.reader.FileFollower`. A glob is looked at again every second, so a log
that appears later (a service restarted under a new file name) joins the timeline.

Pipes (standard input, FIFOs) have no history to merge: their lines are passed on as they
arrive, between the files' lines. One input that fails (unreadable, gone) is reported through
``on_warning`` and the others go on; only when no input can be read at all is it an error.
"""

from __future__ import annotations

import contextlib
import glob
import os
import queue
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from .escape import describe
from .ingest import IngestError
from .reader import BATCH_LINES, FileFollower, LineReader, put_unless_stopped
from .timeline import merge_by_time
from .types import LogLine

#: Most inputs read at once (each file holds a descriptor and a share of every merge step). The
#: one rule for more: ``score`` refuses (its rows must cover every input), the monitor watches
#: the first ones and says once how many it left out (:func:`cap_inputs`); a file a glob adds
#: later past the cap is told once per run (:meth:`MergedReader._left_out`).
MAX_FILES = 256
#: How often the globs are matched again while following.
GLOB_SECONDS = 1.0
#: Recordings are never read as logs, even when a glob matches one.
RECORDING_SUFFIXES = (".lwrec", ".lwrec.gz")
#: Batches the pipes' reader threads may queue ahead of the merge before they wait (backpressure).
MAX_PIPED_BATCHES = 64
#: History lines merged between two looks at what the pipes queued, so a pipe is not held back
#: until a long history is through.
PIPE_CHECK_LINES = 256


# -- what to read ----------------------------------------------------------------------------
def is_pattern(arg: str) -> bool:
    """True for a glob to expand (``*.log``), False for a path that exists as written or ``-``."""
    return arg != "-" and glob.has_magic(arg) and not os.path.lexists(arg)


def glob_logs(pattern: str) -> list[str]:
    """The files a glob matches now, in name order: no directory, and never a recording."""
    return [m for m in sorted(glob.glob(pattern)) if not m.endswith(RECORDING_SUFFIXES) and not os.path.isdir(m)]


def identity(path: str) -> tuple[object, ...]:
    """What makes two names the same file: device and inode, else the absolute path."""
    try:
        st = os.stat(path)
    except OSError:
        return ("path", os.path.abspath(path))
    return (st.st_dev, st.st_ino)


def expand_inputs(args: Sequence[str], *, exclude: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """The paths to read (globs expanded in name order) and the globs themselves.

    The same file named twice (or matched by two globs) is read once; a file in ``exclude``
    (the recording being written) and any recording a glob matches are left out.
    """
    skip = {identity(path) for path in exclude}
    seen: set[tuple[object, ...]] = set()
    paths: list[str] = []
    patterns: list[str] = []
    for arg in args:
        if arg == "-":
            names = ["-"]
        elif is_pattern(arg):
            patterns.append(arg)
            names = glob_logs(arg)
        else:
            names = [arg]
        for name in names:
            ident = ("stdin",) if name == "-" else identity(name)
            if ident in seen or ident in skip:
                continue
            seen.add(ident)
            paths.append(name)
    return paths, patterns


def cap_inputs(paths: list[str]) -> tuple[list[str], str | None]:
    """The first :data:`MAX_FILES` of ``paths``, and what to tell when some were left out."""
    if len(paths) <= MAX_FILES:
        return paths, None
    return paths[:MAX_FILES], (f"{len(paths):,} files to read: watching the first {MAX_FILES}, "
                               f"{len(paths) - MAX_FILES:,} left out (at most {MAX_FILES} at once; "
                               "a narrower glob watches them all)")


def too_many_inputs(count: int) -> str:
    """Why ``score`` refuses ``count`` inputs: rows missing whole files would look complete."""
    return (f"{count:,} files to read: logwatch reads at most {MAX_FILES} at once; "
            "name fewer files or a narrower glob")


# -- the reader ------------------------------------------------------------------------------
class MergedReader(threading.Thread):
    """A daemon thread that reads several inputs and hands batches of one timeline to ``deliver``.

    The interface is :class:`~logwatch.core.reader.LineReader`'s (``stop``, ``error``,
    ``on_error``, ``on_eof``), plus ``on_warning`` for an input that failed while others go on.
    ``inputs`` are paths, ``-`` or a pipe's descriptor; ``patterns`` are globs to match again
    while following; ``exclude`` names files never to read (the recording).
    """

    def __init__(self, inputs: Sequence[str | int], deliver: Callable[[list[LogLine]], None], *,
                 follow: bool = False, patterns: Sequence[str] = (), exclude: Sequence[str] = (),
                 batch_lines: int = BATCH_LINES, on_error: Callable[[str], None] | None = None,
                 on_eof: Callable[[], None] | None = None, on_warning: Callable[[str], None] | None = None,
                 start_n: int = 1, poll_interval: float = 0.1) -> None:
        super().__init__(name="logwatch-reader:merged", daemon=True)
        self.inputs = list(inputs)
        self.deliver = deliver
        self.follow = follow
        self.patterns = list(patterns)
        self.exclude = {identity(path) for path in exclude}
        self.batch_lines = max(1, batch_lines)
        self.on_error = on_error
        self.on_eof = on_eof
        self.on_warning = on_warning
        self.poll_interval = poll_interval
        self.error: str | None = None
        self.next_n = start_n
        self._halt = threading.Event()
        self._files: list[FileFollower] = []
        self._read: set[tuple[object, ...]] = set()
        """Every file any follower has held or a glob matched, so a glob never reads a rotated file twice
        (nor considers a file again that the cap left out)."""
        self._cap_told = False
        """Whether the operator knows that files past :data:`MAX_FILES` are left out."""
        self._pipes: list[LineReader] = []
        self._piped: queue.Queue[list[LogLine]] = queue.Queue(maxsize=MAX_PIPED_BATCHES)
        self._pending: list[LogLine] = []

    def stop(self) -> None:
        self._halt.set()
        for pipe in self._pipes:
            pipe.stop()

    # -- opening -------------------------------------------------------------------------------
    def _open(self, source: str | int, *, at_start: bool) -> None:
        if isinstance(source, str) and source != "-":
            try:
                st: os.stat_result | None = os.stat(source)
            except OSError:
                st = None
            if st is None and not self.follow:
                self._warn(f"no such file: {source}")
                return
            if st is None or stat.S_ISREG(st.st_mode):
                if len(self._files) >= MAX_FILES:
                    self._left_out(source)
                    return
                try:
                    follower = FileFollower(source, from_start=True, poll_interval=self.poll_interval)
                except IngestError as exc:
                    self._warn(str(exc))
                    return
                self._files.append(follower)
                self._note_identity(follower)
                return
            if stat.S_ISDIR(st.st_mode):
                self._warn(f"is a directory: {source}")
                return
        pipe = LineReader(source, self._piped_batch, on_error=self._warn)
        self._pipes.append(pipe)
        if not at_start:
            pipe.start()

    def _left_out(self, name: str) -> None:
        """A file past the cap is not read; said once per run (thousands of matches were thousands
        of toasts, and quitting then took minutes)."""
        if not self._cap_told:
            self._cap_told = True
            self._warn(f"more than {MAX_FILES} files to read: {name} is left out, as is any other past that many")

    def _passed_at_start(self) -> None:
        """When the inputs fill the cap, what the globs match beyond them was left out by the
        command line, which said so (:func:`cap_inputs`): not news when the globs are matched again.
        A file that appears later past the cap is (:meth:`_left_out`)."""
        if not (self.follow and self.patterns) or len(self._files) < MAX_FILES:
            return
        named = set(self.inputs)
        for pattern in self.patterns:
            for name in glob_logs(pattern):
                ident = identity(name)
                if name not in named:
                    self._read.add(ident)

    def _piped_batch(self, lines: list[LogLine]) -> None:
        """A pipe's reader thread → this thread (waits while :data:`MAX_PIPED_BATCHES` are queued)."""
        put_unless_stopped(self._piped, lines, self._halt)

    def _note_identity(self, follower: FileFollower) -> None:
        if follower.identity is not None:
            self._read.add(follower.identity)

    def _new_matches(self) -> None:
        """Files a glob matches now that were never read (a log that appeared since)."""
        for pattern in self.patterns:
            for name in glob_logs(pattern):
                ident = identity(name)
                if ident in self._read or ident in self.exclude:
                    continue
                self._read.add(ident)
                self._open(name, at_start=False)

    # -- the thread ----------------------------------------------------------------------------
    def run(self) -> None:
        try:
            for source in self.inputs:
                self._open(source, at_start=True)
            self._passed_at_start()
            if not self._files and not self._pipes:
                self._report("none of the inputs can be read")
                return
            for pipe in self._pipes:
                pipe.start()
            self._history()
            if self.follow:
                self._follow()
            else:
                while not self._halt.is_set() and (any(p.is_alive() for p in self._pipes) or not self._piped.empty()):
                    if not self._take_piped(wait=0.05):
                        self._flush()
            self._flush()
            if not self._halt.is_set() and self.on_eof is not None:
                self.on_eof()
        except Exception as exc:  # noqa: BLE001 - the thread must never die with a traceback
            self._report(f"error reading the inputs: {describe(exc)}")
        finally:
            for follower in self._files:
                follower.close()
            for pipe in self._pipes:
                pipe.stop()

    def _history(self) -> None:
        """What the files hold now, merged by time (pipes' lines slipped in as they come)."""
        for count, line in enumerate(merge_by_time([self._history_of(f) for f in self._files])):
            if self._halt.is_set():
                return
            self._emit(line)
            if count % PIPE_CHECK_LINES == PIPE_CHECK_LINES - 1:
                self._take_piped()
        self._flush()

    def _history_of(self, follower: FileFollower) -> Iterator[LogLine]:
        """A file's lines up to its current end (and its last partial line when not following)."""
        try:
            while not self._halt.is_set():
                yield from follower.poll()
                if follower.caught_up:
                    break
            if not self.follow:
                yield from follower.flush()
        except IngestError as exc:
            self._drop(follower, str(exc))

    def _follow(self) -> None:
        next_glob = time.monotonic() + GLOB_SECONDS
        while not self._halt.is_set():
            got = False
            for follower in list(self._files):
                try:
                    for line in follower.poll():
                        self._emit(line)
                        got = True
                except IngestError as exc:
                    self._drop(follower, str(exc))
                    continue
                self._note_identity(follower)
            got = self._take_piped() or got
            if self.patterns and time.monotonic() >= next_glob:
                self._new_matches()
                next_glob = time.monotonic() + GLOB_SECONDS
            self._flush()
            if not got:
                self._halt.wait(self.poll_interval)

    def _take_piped(self, wait: float = 0.0) -> bool:
        """Pass on what the pipes delivered; True if anything came."""
        got = False
        while True:
            try:
                batch = self._piped.get(timeout=wait) if wait and not got else self._piped.get_nowait()
            except queue.Empty:
                return got
            for line in batch:
                self._emit(line)
            got = True

    def _drop(self, follower: FileFollower, message: str) -> None:
        with contextlib.suppress(ValueError):
            self._files.remove(follower)
        follower.close()
        self._warn(message)

    # -- out -----------------------------------------------------------------------------------
    def _emit(self, line: LogLine) -> None:
        """Number a line in the one timeline and queue it; full batches go out at once."""
        self._pending.append(LogLine(self.next_n, line.text, line.source, line.arrival, line.truncated))
        self.next_n += 1
        if len(self._pending) >= self.batch_lines:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self.deliver(batch)

    def _warn(self, message: str) -> None:
        if self.on_warning is not None:
            with contextlib.suppress(Exception):  # a failing callback must not kill the reader
                self.on_warning(message)

    def _report(self, message: str) -> None:
        self.error = message
        if self.on_error is not None:
            with contextlib.suppress(Exception):
                self.on_error(message)
