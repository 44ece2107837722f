"""One run's options: what the monitor, ``logwatch score`` and ``logwatch eval`` were asked for.

The command line gathers its flags into one :class:`RunSettings` (one field, one docstring, one
validation each) and hands it on whole: to the monitor's pipeline, to the engine
(:meth:`~logwatch.core.engine.Engine.from_settings`) and to learning. Adding an option touches its
flag, its field here and the code that reads it, nothing in between.

This module imports nothing heavy (``logwatch --help`` builds the flags' choices from it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

#: Where the model runs (``auto``: CUDA, then Apple MPS, then the CPU).
DEVICES = ("auto", "cpu", "cuda", "mps")
#: Numeric modes of the scoring forward (``int8``: dynamic int8 projections on the CPU).
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
#: ``--learn``'s words; a whole number of lines is the fourth form.
LEARN_WORDS = ("auto", "fresh", "off")
#: ``--learn N``: the lines a window may be asked to hold.
LEARN_LINES = (200, 1_000_000)
#: Wall time learning a window takes at most (``--learn-seconds``; the learning config's
#: ``max_seconds``): 40 s on the 2-core test machine trains the whole token budget of Loghub's
#: OpenStack and HDFS windows; a slower machine trains fewer steps in it.
LEARN_SECONDS = 40.0
LEARN_SECONDS_RANGE = (5.0, 3600.0)
#: Fewer lines between two learnings would keep a core learning all the time (each takes a minute).
MIN_RELEARN_LINES = 1_000


class SettingsError(ValueError):
    """An option value that makes no sense; the message names the option (a usage error)."""


def valid_name(name: str) -> str:
    """A model name is a plain file name: letters, digits, ``._-``; a :class:`SettingsError` otherwise."""
    if not name or len(name) > 64 or name.startswith(".") or any(
            not ((c.isascii() and c.isalnum()) or c in "._-") for c in name):
        raise SettingsError(f"model name {name!r}: use up to 64 letters, digits, '.', '_' or '-' "
                            "(not starting with '.')")
    return name


def learn_lines(value: str) -> int | None:
    """``--learn N``: the N lines asked for; None for a word. ASCII digits only: ``int()`` takes
    other scripts' digits, and ``str.isdigit`` a superscript that ``int()`` then refuses."""
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    low, high = LEARN_LINES
    if not low <= int(text) <= high:
        raise SettingsError(f"--learn N: N lines to learn from, between {low:,} and {high:,}")
    return int(text)


@dataclass(frozen=True)
class RunSettings:
    """What one run was asked for; every field is validated when the object is made."""

    # -- the model ---------------------------------------------------------------------------
    model_dir: str | None = None
    """``--model``: a model directory; None: the model remembered for this log, else the bundled one."""
    device: str = "auto"
    """``--device``: one of :data:`DEVICES`."""
    precision: str = "auto"
    """``--precision``: one of :data:`PRECISIONS` (auto: int8 on the CPU, bf16 on a GPU)."""
    session_regex: str | None = None
    """``--session-regex``: one capture group giving a line's session key; None: the model's rule."""
    # -- the alert decision --------------------------------------------------------------------
    known_normal: str | None = None
    """``--known-normal``: the file of lines marked normal; None: the default file; ``none``: no marks."""
    session_ends: bool = False
    """``--session-ends``: judge each session with the model's session check when it ends."""
    idle_seconds: float = 900.0
    """``--idle-seconds``: a session with no line for this long has ended (and its memory is freed)."""
    # -- learning the watched log -----------------------------------------------------------------
    learn: str = "auto"
    """``--learn``: auto, fresh, off, or a number of lines (kept as given, lower-cased)."""
    learn_seconds: float = LEARN_SECONDS
    """``--learn-seconds``: wall time a learning takes at most."""
    relearn: int = 50_000
    """``--relearn``: learn again every this many scored lines (a model learned from this log); 0: when asked."""
    name: str | None = None
    """``--name``: what a learned model is remembered as; None: the log's file name."""
    # -- inputs and outputs --------------------------------------------------------------------
    follow: bool = False
    """``--follow``: keep reading as files grow (the monitor always follows)."""
    record: str | None = None
    """``--record``: write a recording (.lwrec) of the scored lines."""
    replay: str | None = None
    """``--replay``: play a recording instead of reading logs."""
    speed: float = 1.0
    """``--speed``: the replay's speed factor; 0: as fast as possible."""
    theme: str = "logwatch-dark"
    """``--theme``: the monitor's colour theme."""
    tokens: bool = False
    """``score --tokens``: add per-token losses to each row."""
    alerts_only: bool = False
    """``score --alerts``: print alert events instead of rows."""
    fail_on_alert: bool = False
    """``score --fail-on-alert``: exit 1 when any alert fired."""

    def __post_init__(self) -> None:
        _one_of("--device", self.device, DEVICES)
        _one_of("--precision", self.precision, PRECISIONS)
        learn = self.learn.strip().lower()
        if learn_lines(learn) is None and learn not in LEARN_WORDS:
            raise SettingsError(f"--learn must be auto, fresh, off or a number of lines, not {self.learn!r}")
        object.__setattr__(self, "learn", learn)
        _within("--learn-seconds", self.learn_seconds, *LEARN_SECONDS_RANGE)
        _within("--idle-seconds", self.idle_seconds, 1.0, 7 * 86400.0)
        _within("--speed", self.speed, 0.0, 1e6)
        if self.relearn < 0 or 0 < self.relearn < MIN_RELEARN_LINES:
            raise SettingsError(f"--relearn: 0 (only when asked), or at least {MIN_RELEARN_LINES:,} lines")
        if self.name is not None:
            valid_name(self.name)

    @property
    def learn_window_lines(self) -> int | None:
        """``--learn N``'s N (None for auto, fresh and off)."""
        return learn_lines(self.learn)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> tuple[RunSettings, dict[str, Any]]:
        """The settings among a command's options (by field name), and the options left over."""
        names = {f.name for f in fields(cls)}
        mine = {k: v for k, v in options.items() if k in names}
        return cls(**mine), {k: v for k, v in options.items() if k not in names}


def _one_of(option: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise SettingsError(f"{option} must be one of {', '.join(choices)}, not {value!r}")


def _within(option: str, value: float, low: float, high: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high):
        raise SettingsError(f"{option} must be a number from {low:g} to {high:g}, not {value!r}")
