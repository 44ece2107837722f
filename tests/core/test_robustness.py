"""Property tests: whatever bytes arrive, every line comes out exactly once, scored or not.

Hypothesis throws random bytes, NULs, invalid UTF-8, ANSI escapes, Rich markup, carriage
returns and very long sessions at ingest and the engine (a real tiny model).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logwatch.core.engine import Engine
from logwatch.core.ingest import split_lines
from logwatch.core.types import MAX_LINE_CHARS, LogLine

HOSTILE = st.sampled_from([
    "\x1b]0;pwned\x07", "\x1b[2J", "[bold red]x[/]", "\r", "\x00", "\udcff", "\u202e", "blk_-42", "req-",
    "[instance: 1b2c3d4e-0000-4000-8000-000000000000]", "ERROR", "\t", "é", "💥",
])
LINE_TEXT = st.lists(st.one_of(HOSTILE, st.text(max_size=40)), max_size=12).map("".join)

_ENGINES: dict[str, Engine] = {}


@pytest.fixture
def engine(tiny_model_dir: Path) -> Engine:
    if "tiny" not in _ENGINES:
        _ENGINES["tiny"] = Engine.load(tiny_model_dir, device="cpu")
    return _ENGINES["tiny"]


@given(st.lists(st.binary(max_size=300), max_size=20))
def test_ingest_counts_every_line_once(chunks: list[bytes]) -> None:
    data = b"".join(chunks)
    lines = list(split_lines(chunks))
    expected = data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
    assert len(lines) == expected
    assert all(len(text) <= MAX_LINE_CHARS for text, _ in lines)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(LINE_TEXT, min_size=1, max_size=40))
def test_engine_scores_any_text_one_for_one(engine: Engine, texts: list[str]) -> None:
    lines = [LogLine(n=i, text=t, source="fuzz", arrival=float(i)) for i, t in enumerate(texts, 1)]
    scored = engine.score_batch(lines)
    assert [s.n for s in scored] == [x.n for x in lines]
    assert [s.text for s in scored] == texts
    for s in scored:
        assert s.loss is None or (math.isfinite(s.loss) and s.loss >= 0)


def test_very_long_session_slides_and_stays_bounded(engine: Engine) -> None:
    instance = "[instance: 1b2c3d4e-0000-4000-8000-000000000000]"
    lines = [LogLine(n=i, text=f"INFO nova.compute.manager {instance} step {i} of a long life", source="x",
                     arrival=float(i)) for i in range(1, 3001)]
    scored = []
    for start in range(0, len(lines), 250):
        scored += engine.score_batch(lines[start:start + 250])
    assert len(scored) == 3000 and all(s.loss is not None for s in scored)
    window = engine.scorer.windows[scored[0].session]
    assert window.length <= engine.scorer.spec.n_ctx


def test_a_huge_batch_of_one_line_sessions(engine: Engine) -> None:
    lines = [LogLine(n=i, text=f"INFO nova.api [req-{i:08d}-0000-4000-8000-000000000000 - - -] GET /v2", source="x",
                     arrival=float(i)) for i in range(1, 2001)]
    scored = engine.score_batch(lines)
    assert len({s.session for s in scored}) == 2000 and len(scored) == 2000
