"""Helpers the test modules share (importable as ``helpers``: pytest puts tests/ on the path)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from textual.pilot import Pilot

REPO = Path(__file__).resolve().parents[1]
SAMPLE_LOGS = REPO / "sample_logs"
#: The research corpora beside the repository (never copied into it); CI has them, a fresh
#: clone on its own does not.
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_data(relative: str) -> Path:
    """A path under ../shared/data, or skip the calling test saying what is missing."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"needs {path}: the research data beside the repository is not here")
    return path


def wait_for(cond: Callable[[], bool], timeout: float = 10.0, *, interval: float = 0.01) -> bool:
    """Poll ``cond`` every ``interval`` seconds until true or ``timeout`` seconds pass; a
    deadline, not a timing: a loaded 2-core CI machine may be many times slower than a laptop.
    Every test that waits for something waits through this or :func:`wait_until`."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


async def wait_until(cond: Callable[[], bool], timeout: float = 60.0, *, pilot: Pilot[Any] | None = None,
                     interval: float = 0.05) -> bool:
    """:func:`wait_for` for a test driving an app: waits on the event loop, so the app (and what
    its pipeline thread posts) keeps running meanwhile. With ``pilot`` each wait is a
    ``pilot.pause``, which also lets the screen settle."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            return False
        if pilot is not None:
            await pilot.pause(interval)
        else:
            await asyncio.sleep(interval)
    return True


#: Masked-line templates for count-vector tests (the kNN and the baselines share them).
TEMPLATES = [f"INFO svc.part{i} step {i} done in <NUM> ms" for i in range(40)]


def template_sessions(rng: random.Random, n: int, pool: list[str]) -> dict[str, list[str]]:
    """Sessions built from a few templates each, with varying counts."""
    out = {}
    for s in range(n):
        base = rng.sample(pool, rng.randint(2, 6))
        out[f"s{s}"] = [rng.choice(base) for _ in range(rng.randint(3, 30))]
    return out
