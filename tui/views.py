"""What the app keeps per session and how much of it: plain state, no widgets."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from logwatch.core.types import ScoredLine


@dataclass
class AppLimits:
    """Caps that keep memory bounded however long the app runs."""

    all_lines: int = 100_000
    """Lines kept for the "all lines" view."""
    session_lines: int = 5_000
    """Lines kept per session."""
    sessions: int = 2_000
    """Sessions kept for the list (least recently active dropped first; alerted ones kept longer)."""
    alerts: int = 500
    """Alerts kept in the alert list."""
    spark_points: int = 120
    """Recent losses drawn in each sparkline."""


@dataclass
class SessionView:
    """One session as the app shows it: its recent lines and losses, and whether it alerted."""

    key: str
    lines: deque[ScoredLine]
    losses: deque[float]
    alerted: bool = False
    last_n: int = 0
    max_loss: float = 0.0
    count: int = 0


@dataclass
class Pending:
    """What changed since the sidebar was last redrawn (it is redrawn at most twice a second)."""

    sessions: bool = False
    alerts: bool = False
    since: float = field(default_factory=time.monotonic)
