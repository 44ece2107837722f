"""The token window of one session: the contract that training and scoring share.

Each session has a *window*: a marker token (BOS at the session's start, CONT once older
lines have slid out) followed by whole recent lines, at most ``n_ctx`` tokens. A new line is
scored against the window, then appended. When it would not fit, the window slides: only
the most recent whole lines that fit in ``spec.keep_tokens`` stay, behind a CONT marker.
Training (:func:`~logwatch.core.train.build_windows`) cuts every session into exactly the
windows the scorer will hold, so the model learns the contexts it is scored in.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .spec import ModelSpec

if TYPE_CHECKING:
    import torch


_SEPARATOR = array("i", [-1]).tobytes()


@dataclass
class SessionWindow:
    """The token window of one session; shared by the fast path and the reference path."""

    spec: ModelSpec
    bos_id: int
    cont_id: int
    marker: int = -1
    lines: deque[list[int]] = field(default_factory=deque)
    length: int = 0
    """Tokens in the window, marker included (0 before the first line)."""
    cached: int = 0
    """How many of the window's leading tokens the KV cache slot holds."""
    slot: int | None = None
    last_hidden: torch.Tensor | None = None
    """Final hidden state after the last cached token: it predicts the next token."""
    starts: int = 0
    """How many times the window has started (first line, slides): positions cached at one start
    mean nothing at another."""
    _hash: hashlib.blake2b | None = None
    """A running hash of :meth:`tokens` once :meth:`key` was asked for: a key costs the line's
    bytes, not the window's."""

    def prepare(self, line_len: int) -> bool:
        """Make room for a line of ``line_len`` tokens, sliding the window if needed.

        True when the window starts here (the session's first line, or it slid): the tokens
        before the line are a new sequence, which training cuts and the scorer reads afresh.
        """
        if self.length == 0:
            self.marker, self.length, self.cached, self._hash = self.bos_id, 1, 0, None
            self.starts += 1
            return True
        if self.length + line_len > self.spec.n_ctx:
            kept: deque[list[int]] = deque()
            total = 0
            for line in reversed(self.lines):
                if total + len(line) > self.spec.keep_tokens:
                    break
                kept.appendleft(line)
                total += len(line)
            # Positions shift, so the cache is useless: the next forward re-reads the window.
            self.marker, self.lines, self.length, self.cached = self.cont_id, kept, 1 + total, 0
            self._hash = None
            self.starts += 1
            return True
        return False

    def copy(self) -> SessionWindow:
        """The same lines and marker, without the cache (a window to plan ahead with)."""
        return SessionWindow(self.spec, self.bos_id, self.cont_id, self.marker, deque(self.lines), self.length,
                             starts=self.starts, _hash=None if self._hash is None else self._hash.copy())

    def adopt(self, plan: SessionWindow) -> None:
        """Take on the lines, marker and running hash of ``plan`` (a :meth:`copy` that went on
        ahead); the cache fields stay for the caller to set."""
        self.marker, self.lines, self.length, self.starts = plan.marker, plan.lines, plan.length, plan.starts
        self._hash = plan._hash

    def tokens(self) -> list[int]:
        out = [self.marker]
        for line in self.lines:
            out.extend(line)
        return out

    def key(self, line: list[int]) -> bytes:
        """A digest of (the window's tokens, ``line``): equal exactly when both are equal (128
        bits), whatever the session; what the scorer's memo is keyed by."""
        running = self._hash
        if running is None:
            running = self._hash = hashlib.blake2b(array("i", self.tokens()).tobytes(), digest_size=16)
        key = running.copy()
        key.update(_SEPARATOR)  # no line is -1: a window and a line never read as another pair
        key.update(array("i", line).tobytes())
        return key.digest()

    def append(self, line: list[int]) -> None:
        self.lines.append(line)
        self.length += len(line)
        if self._hash is not None:
            self._hash.update(array("i", line).tobytes())
