"""Per-line surprise: cross-entropy of a line's tokens given its session's earlier lines.

Each session's context is its :class:`~logwatch.core.window.SessionWindow`: a marker and
whole recent lines, at most ``n_ctx`` tokens; a new line is scored against it, then appended.

Three things make this fast, none of which changes a result:
- a KV cache per session (a slot in :class:`~logwatch.core.gpt.KVPool`): an appended line
  costs its own tokens, not the window's; the LM head runs only on the line's tokens;
- batching: the next line of many sessions goes through one forward pass, and so do the
  windows of one long session: a window that slides re-reads its lines anyway, so each of
  the session's later windows is a row of its own beside the first (rows, not sequential
  forwards: a session of 500 queued lines costs one pass, not 100);
- memoisation: logs repeat, and the same window + line always gives the same losses, so
  results are cached by a digest of (window tokens, line tokens). A line served from the
  memo is not fed to the model at all; the session's cache catches up on its next miss.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from .gpt import KVPool, LeanGPT
from .parking import ParkingLot
from .window import SessionWindow


@dataclass
class _Feed:
    """One batch row: a session's catch-up tokens and one or more consecutive new lines."""

    session: str
    window: SessionWindow
    context: list[int]
    """The window's tokens before the first segment (marker + earlier lines)."""
    segments: list[tuple[list[int], int, bytes]]
    """(line tokens, result index, memo key) of each line, in session order."""
    fresh: bool = False
    """The row begins where the window slid: it re-reads its context into a scratch slot."""
    final: SessionWindow | None = None
    """On the last row of a session's chain: the window after all of the chain's lines."""
    slot: int = -1
    start: int = 0
    """Positions already in the cache slot (tokens fed begin here)."""
    n_catch: int = 0
    """Leading tokens of the row that re-read the window, not scored."""
    tokens: list[int] = field(default_factory=list)
    last: torch.Tensor | None = None
    """Final hidden state after the row's last token, once it ran."""


#: Default cache slots and byte budget for parked caches (:mod:`.parking`). A slot holds all
#: ``n_ctx`` positions (about 1 MB for LogGPT-Small in fp32) however short the session, a parked
#: cache only its own. On 54,000 real OpenStack lines (12,644 sessions), tokens through the
#: model and peak RSS of the engine: 256 slots, nothing parked 260,490 and 727 MB; 256 slots +
#: 256 MB 178,908 and 977 MB; 128 slots + 384 MB 171,167 and 966 MB (the default); 128 slots +
#: 256 MB 201,249 and 849 MB.
CACHE_SLOTS = 128
PARK_BYTES = 384 << 20

#: Default rows per scoring batch: as many as there are slots. On the same lines, 623 forward
#: passes instead of 981 with 32 rows (a small pass costs 80-130 us per token against 55 for a
#: big one, single-threaded), about 5% faster in alternated runs.
MAX_BATCH = CACHE_SLOTS

#: Padded tokens one forward pass takes at most: big enough to keep the matmuls efficient,
#: small enough that one pass's activations stay a few MB.
PASS_TOKENS = 4096


class Scorer:
    """Scores (session, line tokens) items with batched KV-cached forwards and a memo."""

    def __init__(self, gpt: LeanGPT, *, bos_id: int, cont_id: int, max_batch: int = MAX_BATCH,
                 cache_slots: int = CACHE_SLOTS, memo_entries: int = 200_000,
                 park_bytes: int = PARK_BYTES) -> None:
        self.gpt = gpt
        self.spec = gpt.spec
        self.bos_id, self.cont_id = bos_id, cont_id
        self.max_batch = max(1, min(max_batch, cache_slots))
        self.cache_slots = cache_slots
        self.memo_entries = memo_entries
        self.windows: dict[str, SessionWindow] = {}
        self._memo: OrderedDict[bytes, tuple[float, ...]] = OrderedDict()
        self._pool: KVPool | None = None
        self._slot_owner: OrderedDict[int, str] = OrderedDict()  # LRU: slot -> session
        self._free: list[int] = []
        self.parking = ParkingLot(park_bytes)
        """Caches of sessions that lost their slot, copied out to be copied back on their return."""
        self.memo_hits = 0
        self.model_lines = 0
        self.oom_splits = 0
        """How often a batch ran out of memory and was split (the status bar shows it)."""

    # -- sessions -------------------------------------------------------------------------
    def drop(self, session: str) -> None:
        """Forget a session (closed or evicted); frees its cache slot."""
        self.parking.drop(session)
        window = self.windows.pop(session, None)
        if window is not None and window.slot is not None:
            self._slot_owner.pop(window.slot, None)
            self._free.append(window.slot)

    def _window(self, session: str) -> SessionWindow:
        window = self.windows.get(session)
        if window is None:
            window = SessionWindow(self.spec, self.bos_id, self.cont_id)
            self.windows[session] = window
        return window

    def _assign_slot(self, session: str, window: SessionWindow, busy: set[int]) -> int:
        if window.slot is not None:
            self._slot_owner.move_to_end(window.slot)
            return window.slot
        slot = self._take_slot(busy)
        self._slot_owner[slot] = session
        window.slot, window.cached, window.last_hidden = slot, 0, None
        assert self._pool is not None
        parked = self.parking.restore(session, self._pool, slot, window.starts)
        if parked is not None:
            window.cached, window.last_hidden = parked.length, parked.last_hidden
        return slot

    def _take_slot(self, busy: set[int]) -> int:
        """A slot no session owns: a free one, a new one, or the one not in ``busy`` that is cheapest to lose.

        The cheapest is the session with the fewest cached tokens (least recently used among
        equals): a session that comes back re-reads its whole window, and the short ones are
        mostly requests that are over. Measured on 54,000 Loghub OpenStack lines (12,644
        sessions, 256 slots): re-read tokens 92,126 -> 69,786 against plain LRU, 9% fewer
        tokens through the model; 1,024 LRU slots (four times the memory) saved 31,566.
        """
        if not self._free:
            self._grow_pool()
        if self._free:
            return self._free.pop()
        slot, fewest = -1, -1
        for owned, session in self._slot_owner.items():  # least recently used first
            if owned in busy:
                continue
            window = self.windows.get(session)
            cached = 0 if window is None else window.cached
            if fewest < 0 or cached < fewest:
                slot, fewest = owned, cached
                if cached <= 1:  # nothing cheaper to find
                    break
        owner = self._slot_owner.pop(slot)
        victim = self.windows.get(owner)
        if victim is not None:
            if victim.cached > 0 and victim.last_hidden is not None and self._pool is not None:
                self.parking.park(owner, self._pool, slot, victim.cached, victim.last_hidden, victim.starts)
            victim.slot, victim.cached, victim.last_hidden = None, 0, None
        return slot

    def _release_slot(self, slot: int, window: SessionWindow) -> None:
        if window.slot == slot:
            window.slot, window.cached, window.last_hidden = None, 0, None
        self._slot_owner.pop(slot, None)
        self._free.append(slot)

    def _grow_pool(self) -> None:
        old = self._pool
        have = 0 if old is None else old.slots
        if have >= self.cache_slots:
            return
        size = min(self.cache_slots, max(16, have * 2))
        pool = self.gpt.new_pool(size)
        if old is not None:
            pool.kv[:, :, :have].copy_(old.kv)
        self._pool = pool
        self._free.extend(range(size - 1, have - 1, -1))

    # -- scoring --------------------------------------------------------------------------
    def score(self, items: Sequence[tuple[str, list[int]]]) -> list[list[float]]:
        """Per-token losses of each item, in order; a session's lines are scored in order."""
        results: list[list[float] | None] = [None] * len(items)
        queues: OrderedDict[str, deque[int]] = OrderedDict()
        for index, (session, _) in enumerate(items):
            queues.setdefault(session, deque()).append(index)
        while queues:
            # One wave: the next line of every session. Memo hits are served first, so the
            # misses of the whole wave (not of a handful of sessions) fill the model batches.
            wave: list[int] = []
            for session in list(queues):
                queue = queues[session]
                wave.append(queue.popleft())
                if not queue:
                    del queues[session]
            self._score_wave(wave, items, queues, results)
        return [r if r is not None else [] for r in results]

    def _score_wave(self, wave: list[int], items: Sequence[tuple[str, list[int]]],
                    queues: OrderedDict[str, deque[int]], results: list[list[float] | None]) -> None:
        """Score one line each of distinct sessions: memo first, then batched forwards.

        A session whose line misses the memo takes its next queued lines into the same feed
        while they fit the window: a burst of new lines in one session (what an incident
        looks like) costs one forward row, not one forward per line.
        """
        pending: list[_Feed] = []
        first_of: dict[bytes, int] = {}  # key -> index of the wave item the model scores
        repeats: list[tuple[SessionWindow, list[int], int, int]] = []
        for index in wave:
            session, line = items[index]
            window = self._window(session)
            if window.prepare(len(line)):
                self.parking.drop(session)  # what it parked belongs to its previous start
            key = window.key(line)
            hit = self._memo.get(key)
            if hit is not None:
                self._memo.move_to_end(key)
                self.memo_hits += 1
                results[index] = list(hit)
                window.append(line)
            elif key in first_of and self.memo_entries > 0:  # a repeat within this wave: memo it too
                repeats.append((window, line, index, first_of[key]))
            else:
                first_of[key] = index
                pending.extend(self._chain(_Feed(session, window, window.tokens(), [(line, index, key)]), items,
                                           queues, results))
        done = 0
        while done < len(pending):
            batch = pending[done : done + self.max_batch]  # max_batch may shrink after an OOM
            done += len(batch)
            self._score_batch(batch, results)
        for window, line, index, first in repeats:
            results[index] = list(results[first] or [])
            window.append(line)  # its cache catches up on the session's next miss
            self.memo_hits += 1

    def _chain(self, first: _Feed, items: Sequence[tuple[str, list[int]]],
               queues: OrderedDict[str, deque[int]], results: list[list[float] | None]) -> list[_Feed]:
        """The rows that score ``first`` and every line the session has queued after it.

        Lines go into the first row while the window holds them; where the window slides, a
        fresh row begins (its context is re-read in any case, so it needs nothing from the
        rows before it). A fresh row whose every line is in the memo is served from it,
        unless it is the last one, which leaves the session's cache where its window is.
        """
        shadow = first.window.copy()
        shadow.append(first.segments[0][0])
        rows = [first]
        queue = queues.pop(first.session, None) or deque()
        for index in queue:
            line = items[index][1]
            if shadow.prepare(len(line)):  # the shadow has begun, so True means it slid
                rows.append(_Feed(first.session, first.window, shadow.tokens(), [], fresh=True))
            rows[-1].segments.append((line, index, shadow.key(line)))
            shadow.append(line)
        rows[-1].final = shadow
        kept = [rows[0]]
        for row in rows[1:-1]:
            hits = [self._memo.get(key) for _line, _index, key in row.segments]
            if all(hit is not None for hit in hits):
                for (_line, index, key), hit in zip(row.segments, hits):
                    self._memo.move_to_end(key)
                    results[index] = list(hit or ())
                    self.memo_hits += 1
            else:
                kept.append(row)
        if len(rows) > 1:
            kept.append(rows[-1])
        return kept

    def _score_batch(self, pending: list[_Feed], results: list[list[float] | None]) -> None:
        busy = {f.window.slot for f in pending if f.window.slot is not None and not f.fresh}
        for feed in pending:
            if feed.fresh:
                feed.slot, feed.start = self._take_slot(busy), 0
            else:
                feed.slot = self._assign_slot(feed.session, feed.window, busy)
                feed.start = feed.window.cached
            busy.add(feed.slot)
            catch_up = feed.context[feed.start :]
            feed.n_catch = len(catch_up)
            feed.tokens = catch_up + [t for line, _, _ in feed.segments for t in line]
        # Rows of similar length share a pass (sorted, cut where the width doubles or the pass
        # would exceed PASS_TOKENS): a few 128-token re-reads do not pad every 8-token append.
        group: list[_Feed] = []
        for feed in sorted(pending, key=lambda f: len(f.tokens)):
            width = len(feed.tokens)
            if group and ((len(group) + 1) * width > PASS_TOKENS or width > 2 * len(group[0].tokens)):
                self._forward(group, results)
                group = []
            group.append(feed)
        if group:
            self._forward(group, results)
        for feed in pending:  # in chain order: a session's first row gives up its slot before its last takes over
            self._settle(feed)

    def _forward(self, feeds: list[_Feed], results: list[list[float] | None]) -> None:
        gpt, device = self.gpt, self.gpt.device
        assert self._pool is not None
        width = max(len(f.tokens) for f in feeds)
        padded: list[int] = []
        for f in feeds:
            padded.extend(f.tokens)
            padded.extend([0] * (width - len(f.tokens)))
        tokens = torch.tensor(padded, dtype=torch.long).view(len(feeds), width)
        slots = torch.tensor([f.slot for f in feeds], dtype=torch.long, device=device)
        starts = torch.tensor([f.start for f in feeds], dtype=torch.long, device=device)
        lengths = torch.tensor([len(f.tokens) for f in feeds], dtype=torch.long, device=device)
        try:
            hidden = gpt.step(self._pool, slots, tokens.to(device), starts, lengths)  # [B, L, E]
        except (torch.OutOfMemoryError, MemoryError, RuntimeError) as exc:
            if len(feeds) == 1 or not _is_oom(exc):
                raise
            # Out of memory on a big batch: halve it (for good) and go on. Re-running a feed
            # rewrites the same cache positions with the same values, so a half-done step is harmless.
            self.max_batch = max(1, min(self.max_batch, len(feeds)) // 2)
            self.oom_splits += 1
            half = len(feeds) // 2
            self._forward(feeds[:half], results)
            self._forward(feeds[half:], results)
            return

        # The state that predicts each scored token is the one just before it: all are picked
        # from the flattened [B*L, E] states by one index. A line that begins where the cache
        # ended has its first predictor saved from the previous pass (the window's last_hidden).
        picks: list[int] = []
        saved_at: list[int] = []
        saved: list[torch.Tensor] = []
        targets: list[int] = []
        for row, feed in enumerate(feeds):
            offset = row * width + feed.n_catch  # where the segment's first token sits
            for line, _index, _key in feed.segments:
                first = len(picks)
                picks.extend(range(offset - 1, offset - 1 + len(line)))
                if offset == row * width:  # nothing before it in the row: the saved state predicts it
                    assert feed.window.last_hidden is not None
                    picks[first] = offset  # any valid index; overwritten by the saved state below
                    saved_at.append(first)
                    saved.append(feed.window.last_hidden)
                targets.extend(line)
                offset += len(line)
        flat = hidden.view(-1, hidden.shape[-1])  # [B*L, E]
        predictors = flat.index_select(0, torch.tensor(picks, dtype=torch.long, device=device))  # [T, E]
        if saved:
            predictors.index_copy_(0, torch.tensor(saved_at, dtype=torch.long, device=device), torch.stack(saved))
        losses = gpt.token_losses(predictors, torch.tensor(targets, device=device)).tolist()
        ends = [row * width + len(feed.tokens) - 1 for row, feed in enumerate(feeds)]
        lasts = flat.index_select(0, torch.tensor(ends, dtype=torch.long, device=device))  # [B, E]
        offset = 0
        for row, feed in enumerate(feeds):
            for line, index, key in feed.segments:
                per_token = losses[offset : offset + len(line)]
                offset += len(line)
                results[index] = per_token
                self._remember(key, per_token)
                self.model_lines += 1
            feed.last = lasts[row].clone()  # its own copy: a view would keep all B rows alive

    def _settle(self, feed: _Feed) -> None:
        """After a row ran: the chain's last row leaves the session's window and cache; others free their slot."""
        window = feed.window
        if feed.final is None:
            self._release_slot(feed.slot, window)
            return
        if feed.fresh:  # its scratch slot becomes the session's
            if window.slot is not None:
                self._release_slot(window.slot, window)
            self._slot_owner[feed.slot] = feed.session
        window.adopt(feed.final)
        window.slot, window.cached = feed.slot, feed.start + len(feed.tokens)
        window.last_hidden = feed.last

    def _remember(self, key: bytes, losses: list[float]) -> None:
        if self.memo_entries <= 0:
            return
        self._memo[key] = tuple(losses)
        if len(self._memo) > self.memo_entries:
            self._memo.popitem(last=False)


def _is_oom(exc: BaseException) -> bool:
    """CUDA raises OutOfMemoryError; the CPU allocator raises a RuntimeError saying so."""
    return isinstance(exc, (torch.OutOfMemoryError, MemoryError)) or "can't allocate memory" in str(exc) \
        or "out of memory" in str(exc)
