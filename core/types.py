"""Plain data that flows through the engine: raw lines in, scored lines out.

These dataclasses are the contract between ingest, the scorer, recordings and the TUI.
They carry no behaviour beyond trivial conversions, so every layer can depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Displayed and scored text is cut at this many characters. A 10 MB line still counts as
#: one line; only its head is kept (the tail is dropped and ``truncated`` is set).
MAX_LINE_CHARS = 16_384


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line as read from a source, before any parsing."""

    n: int
    """1-based arrival number across the whole stream (all sources)."""
    text: str
    """Decoded text without the line ending; invalid UTF-8 is replaced with U+FFFD."""
    source: str
    """Where it came from: a file path, or ``-`` for standard input."""
    arrival: float
    """Wall-clock time (``time.time()``) when the line was read."""
    truncated: bool = False
    """True when the raw line was longer than :data:`MAX_LINE_CHARS` and was cut."""


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """Fields pulled out of a line by :mod:`logwatch.core.parse`; any may be missing."""

    ts: str | None
    """Timestamp as written in the line (not normalised), or None."""
    level: str | None
    """Upper-case severity such as INFO, WARNING, ERROR, or None."""
    component: str | None
    """Logger or component name (``nova.compute.manager``, ``dfs.DataNode$DataXceiver``)."""
    message: str
    """The free text after the header; the whole line when no format matched."""
    fmt: str
    """Name of the format that matched: ``openstack``, ``hdfs``, ``syslog``, ``json`` or ``raw``."""


@dataclass(frozen=True, slots=True)
class ModelChange:
    """A model that took over while the stream ran (the log was learned, or learned again)."""

    label: str
    threshold: float | None
    """Its surprise threshold (None: it has no calibration)."""
    learned_from: int
    """How many lines it was learned from."""


@dataclass(slots=True)
class ScoredLine:
    """A line after scoring: what ``logwatch score`` prints and what the TUI shows."""

    n: int
    source: str
    arrival: float
    text: str
    session: str
    """Session key, e.g. an instance UUID, ``req-…``, ``blk_…`` or ``<unkeyed:FILE NAME>``."""
    pattern: str
    """Its masked text (:func:`logwatch.core.masking.mask_line`), computed once where the line is
    scored (or read back from a recording): the unit that marks, alert groups and novelty count
    by, so every reader takes it from here instead of masking the text again. Neither printed by
    ``logwatch score`` nor recorded: a replay derives it from the recorded text."""
    ts: str | None = None
    level: str | None = None
    loss: float | None = None
    """Mean cross-entropy (nats/token) of the line's tokens given its session's context;
    None when it was not scored (no model loaded)."""
    alert: bool = False
    """True when this line is over the threshold and its session meets the alert rule with it
    (``min_lines`` such lines so far, none of them marked normal): the crossing line and every
    surprising line after it."""
    tokens: tuple[tuple[str, float], ...] = field(default_factory=tuple)
    """Per-token explanation: (token text, loss in nats) in line order, for the masked line."""
    why: tuple[str, ...] = ()
    """Why it alerted, one phrase per signal (``surprise 12.3 > 1.53``, ``error-level``,
    ``new-pattern``); empty when it did not (:mod:`logwatch.core.alerts`)."""
    order_only: bool = False
    """Over its bar, but a known line below WARNING in a session whose lines so far fit a normal
    session's mix: it surprised by its place only, and the session check judges the session
    (:meth:`logwatch.core.alerts.AlertRule.order_surprise`); it does not alert."""
    model: ModelChange | None = None
    """Set on the first line a new model scored: from this line on, its scores and threshold."""

    @property
    def top_token(self) -> float | None:
        """Its costliest token's loss (None: not scored), what a mean over the line can hide."""
        return max((loss for _, loss in self.tokens), default=None)

    def to_json_dict(self) -> dict[str, object]:
        """The public JSON object of ``logwatch score`` (docs/DESIGN.md §4)."""
        return {
            "n": self.n,
            "ts": self.ts,
            "source": self.source,
            "session": self.session,
            "text": self.text,
            "loss": None if self.loss is None else round(self.loss, 4),
            "alert": self.alert,
            "why": list(self.why),
        }


@dataclass(slots=True)
class SessionEnd:
    """The session-completeness check's verdict on a session that ended (idle, or input over).

    Only produced when asked for (``logwatch score --session-ends``) and the model stores a
    session check: per line, a session that stops early has nothing surprising to show.
    """

    session: str
    n: int
    """Arrival number of the session's last line (where the verdict belongs)."""
    lines: int
    score: float
    """Distance of the session's mix of lines from the nearest normal one (plus unseen lines)."""
    threshold: float
    alert: bool
    why: tuple[str, ...] = ()

    def to_json_dict(self) -> dict[str, object]:
        """``score --session-ends`` output: told apart from line objects by its ``session_end`` key."""
        return {"session_end": self.session, "n": self.n, "lines": self.lines, "check": round(self.score, 4),
                "threshold": round(self.threshold, 6), "alert": self.alert, "why": list(self.why)}
