"""Messages the pipeline thread posts to the app. Posting is thread-safe and non-blocking."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from logwatch.core.types import ScoredLine, SessionEnd


@dataclass(frozen=True)
class Status:
    """What the status bar shows; computed on the pipeline thread with its (injectable) clock."""

    state: str
    """loading model · scoring · unscored · replaying · paused · input ended · stopped."""
    model: str = "-"
    device: str = "-"
    threshold: float | None = None
    lines: int = 0
    lines_per_s: float = 0.0
    queued: int = 0
    """Lines read but not yet scored (the backlog behind the model)."""
    sessions: int = 0
    speed: float | None = None
    """Replay speed factor; None when live."""
    note: str = ""
    """One-line explanation: why the model is missing, why input ended, warnings."""
    learning: str = ""
    """Where learning the log stands ("learning this log: 3,210/5,000 lines"), or what it did."""
    warning: str = ""
    """A failure the operator must see now, not only in the status line (the recording stopped)."""


class LinesScored(Message):
    """A batch of scored lines (everything since the last batch, every ~75 ms).

    ``pending`` lines are shown before they are final (the log is being learned); each comes
    again in a later batch's ``lines``, with the same ``n``.
    """

    def __init__(self, lines: list[ScoredLine], status: Status, pending: list[ScoredLine] | None = None) -> None:
        super().__init__()
        self.lines = lines
        self.status = status
        self.pending = pending or []


class SessionsEnded(Message):
    """Verdicts of the session check on sessions that just ended (``--session-ends``)."""

    def __init__(self, ends: list[SessionEnd]) -> None:
        super().__init__()
        self.ends = ends


class StatusChanged(Message):
    """The pipeline's state changed without new lines (model loaded, failed, input ended)."""

    def __init__(self, status: Status) -> None:
        super().__init__()
        self.status = status
