"""Parked KV caches: what a session had cached when it lost its slot, kept compactly.

A cache slot holds ``n_ctx`` positions (about 1 MB for LogGPT-Small in fp32) whatever the
session's length, and real logs interleave thousands of sessions: on 54,000 real Loghub nova
lines (12,644 sessions, 256 slots) two fifths of the tokens the model ran were sessions
re-reading windows they had lost. Copying a session's cached positions out when its slot goes
(about 8 KB per token) and back when it returns costs microseconds; re-reading them costs the
model tens of microseconds per token. The copy is exact, so parking changes no loss.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch

from .gpt import KVPool


@dataclass
class Parked:
    """The first ``length`` cached positions of one session's window, at one window start."""

    kv: torch.Tensor  # [key|value, layer, length, head, head_dim]
    last_hidden: torch.Tensor | None
    """The final hidden state after the last cached token (it predicts the window's next token)."""
    start: int
    """The window's :attr:`~logwatch.core.window.SessionWindow.starts` when parked: a window that
    slid since holds other tokens at these positions, so the copy is no use to it."""

    @property
    def length(self) -> int:
        return self.kv.shape[2]

    @property
    def nbytes(self) -> int:
        return self.kv.element_size() * self.kv.nelement()


class ParkingLot:
    """Parked caches by session within a byte budget; the least recently parked go first."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = max(0, budget_bytes)
        self.nbytes = 0
        self._parked: OrderedDict[str, Parked] = OrderedDict()
        self.restored_tokens = 0
        """Cached positions copied back instead of re-read by the model (a measure of the gain)."""

    def __len__(self) -> int:
        return len(self._parked)

    def park(self, session: str, pool: KVPool, slot: int, length: int, last_hidden: torch.Tensor | None,
             start: int) -> None:
        """Copy the first ``length`` positions of ``slot`` out for ``session`` (replacing what it had parked)."""
        self.drop(session)
        if length <= 1 or self.budget_bytes <= 0:  # a marker alone is cheaper to re-read than to keep
            return
        parked = Parked(pool.kv[:, :, slot, :length].clone(), last_hidden, start)
        if parked.nbytes > self.budget_bytes:
            return
        self._parked[session] = parked
        self.nbytes += parked.nbytes
        while self.nbytes > self.budget_bytes:
            _, gone = self._parked.popitem(last=False)
            self.nbytes -= gone.nbytes

    def restore(self, session: str, pool: KVPool, slot: int, start: int) -> Parked | None:
        """Copy ``session``'s parked positions into ``slot`` if they belong to its window's ``start``."""
        parked = self._parked.pop(session, None)
        if parked is None:
            return None
        self.nbytes -= parked.nbytes
        if parked.start != start:
            return None
        pool.kv[:, :, slot, : parked.length].copy_(parked.kv)
        self.restored_tokens += parked.length
        return parked

    def drop(self, session: str) -> None:
        parked = self._parked.pop(session, None)
        if parked is not None:
            self.nbytes -= parked.nbytes
