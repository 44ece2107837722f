"""Where learning stands: one set of phase words, what each group of them means, and the
sentences the status bar and stderr show.

The first learning (:mod:`.learning`) goes probing -> collecting -> training -> learned, or ends
known (the model knew the log), failed or off; learning again (:mod:`.relearn`) goes relearning
-> learned or failed. The monitor and ``logwatch score`` ask the status what it means
(:attr:`LearnStatus.in_progress`, :attr:`LearnStatus.worth_a_note`) instead of listing words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Phase = Literal["probing", "collecting", "training", "relearning", "learned", "known", "failed", "off"]

#: The first learning still holds lines back: they are shown pending, not final yet.
HOLDING: frozenset[Phase] = frozenset({"probing", "collecting", "training"})
#: The window is still being gathered (first probed, then collected).
GATHERING: frozenset[Phase] = frozenset({"probing", "collecting"})
#: A learning is under way, first or again: the status bar shows its progress.
IN_PROGRESS: frozenset[Phase] = HOLDING | {"relearning"}
#: What a learning ended with that the monitor keeps as its note (known and off are no news).
WORTH_A_NOTE: frozenset[Phase] = frozenset({"learned", "failed"})


@dataclass
class LearnStatus:
    """Where learning stands, for the status bar and stderr."""

    phase: Phase
    """probing · collecting · training, then learned, known (the model knew the log), failed or off;
    relearning while the model learns again (:mod:`.relearn`)"""
    lines: int = 0
    window: int = 0
    steps_done: int = 0
    steps_total: int = 0
    eta_seconds: float | None = None
    note: str = ""
    goal: str = ""
    """What the window still waits for once it holds its fewest lines (two hours of the log...)."""

    @property
    def holds_lines(self) -> bool:
        """The first learning is not over: the lines it holds are not final yet."""
        return self.phase in HOLDING

    @property
    def in_progress(self) -> bool:
        """Learning (first or again) is under way: its progress is worth showing."""
        return self.phase in IN_PROGRESS

    @property
    def worth_a_note(self) -> bool:
        """It ended with news the operator keeps seeing: a model learned, or why not."""
        return self.phase in WORTH_A_NOTE

    def text(self) -> str:
        if self.phase in GATHERING:
            count = (f"{self.lines:,}/{self.window:,} lines" if self.lines < self.window
                     else f"{self.lines:,} lines, until they cover {self.goal}" if self.goal else f"{self.lines:,} lines")
            return f"learning this log: {count}" + (f" ({self.note})" if self.note else "")
        if self.phase == "relearning":
            steps = (f": step {self.steps_done:,}/{self.steps_total:,}" if self.steps_total else "") + (
                f", ETA {self.eta_seconds:.0f} s" if self.eta_seconds is not None else "")
            return f"learning again from {self.window:,} lines{steps}" + (f" ({self.note})" if self.note else "")
        if self.phase == "training":
            if not self.steps_total:
                return f"learning this log: starting to train on {self.window:,} lines"
            eta = f", ETA {self.eta_seconds:.0f} s" if self.eta_seconds is not None else ""
            return f"learning this log: training step {self.steps_done:,}/{self.steps_total:,}{eta}"
        return self.note


def learned_errors_note(summary: dict[str, object]) -> str:
    """What the operator should know the model now takes as normal: the error patterns it learned.

    A frequent error in the window is learned, not left out (it is this log's routine, or an
    incident already in full swing), and from then on it alerts only if it surprises the model."""
    count, examples = summary.get("error_patterns_learned"), summary.get("errors_learned")
    if not isinstance(count, int) or count <= 0 or not isinstance(examples, list) or not examples:
        return ""
    first = examples[0]
    if not (isinstance(first, list) and len(first) == 2 and isinstance(first[1], int)):
        return ""
    what = "1 error pattern" if count == 1 else f"{count:,} error patterns"
    return f"; learned as normal: {what}, the most frequent {str(first[0])[:80]!r} ({first[1]:,} lines)"
