"""The fast scorer (KV cache, batching, slot eviction, memo) equals HF GPT-2 re-encoding."""

from __future__ import annotations

import random
from collections import deque

import pytest
import torch

from logwatch.core.gpt import PROJECTIONS, KVPool, LeanGPT
from logwatch.core.model import hf_model
from logwatch.core.parking import ParkingLot
from logwatch.core.reference import reference_losses
from logwatch.core.scorer import Scorer
from logwatch.core.spec import ModelSpec
from logwatch.core.window import SessionWindow

BOS, CONT, EOL = 1, 2, 3


def _random_model(seed: int = 0, slide_keep: int | None = None):
    torch.manual_seed(seed)
    spec = ModelSpec(vocab_size=300, n_layer=2, n_head=4, n_embd=64, n_ctx=48, max_line_tokens=16,
                     slide_keep=slide_keep)
    model = hf_model(spec).eval()
    # Random init is near-uniform; sharpen it so losses differ a lot between tokens.
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    return spec, model


def _items(seed: int, n: int, sessions: int, spec: ModelSpec, vocab: int = 60) -> list[tuple[str, list[int]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = rng.randrange(1, spec.max_line_tokens)
        out.append((f"s{rng.randrange(sessions)}", [rng.randrange(4, vocab) for _ in range(length - 1)] + [EOL]))
    return out


def _max_diff(a: list[list[float]], b: list[list[float]]) -> float:
    assert [len(x) for x in a] == [len(y) for y in b]
    return max(abs(x - y) for xs, ys in zip(a, b) for x, y in zip(xs, ys))


@pytest.mark.parametrize("max_batch,cache_slots", [(1, 64), (8, 64), (5, 6), (4, 4)])
def test_fast_path_matches_reference(max_batch: int, cache_slots: int) -> None:
    spec, model = _random_model()
    items = _items(1, 300, 10, spec)
    gpt = LeanGPT(spec, dict(model.state_dict()), torch.device("cpu"))
    scorer = Scorer(gpt, bos_id=BOS, cont_id=CONT, max_batch=max_batch, cache_slots=cache_slots, memo_entries=0)
    fast: list[list[float]] = []
    for start in range(0, len(items), 23):  # arbitrary batch boundaries
        fast += scorer.score(items[start : start + 23])
    ref = reference_losses(model, spec, items, bos_id=BOS, cont_id=CONT)
    assert _max_diff(fast, ref) < 1e-4
    assert max(max(x) for x in ref) - min(min(x) for x in ref) > 1.0  # the comparison is not vacuous


@pytest.mark.parametrize("max_batch,cache_slots,memo,keep", [(8, 64, 0, None), (3, 4, 0, None),
                                                             (8, 64, 200_000, None), (8, 64, 0, 8)])
def test_a_long_sessions_windows_run_as_rows_of_one_pass(monkeypatch: pytest.MonkeyPatch, max_batch: int,
                                                         cache_slots: int, memo: int, keep: int | None) -> None:
    """Two sessions of 150 lines in one call slide many times: their windows are rows, not 60 forwards."""
    spec, model = _random_model(6, keep)
    rng = random.Random(11)
    lines = [[rng.randrange(4, 12) for _ in range(rng.randrange(2, 8))] + [EOL] for _ in range(6)]
    items = [(f"s{i % 2}", lines[rng.randrange(len(lines))]) for i in range(300)]
    gpt = LeanGPT(spec, dict(model.state_dict()), torch.device("cpu"))
    real_step = gpt.step
    passes: list[int] = []

    def counting_step(pool, slots, tokens, starts, lengths):  # type: ignore[no-untyped-def]
        passes.append(int(tokens.shape[0]))
        return real_step(pool, slots, tokens, starts, lengths)

    monkeypatch.setattr(gpt, "step", counting_step)
    scorer = Scorer(gpt, bos_id=BOS, cont_id=CONT, max_batch=max_batch, cache_slots=cache_slots, memo_entries=memo)
    fast = scorer.score(items[:200]) + scorer.score(items[200:])  # the second call continues the windows
    ref = reference_losses(model, spec, items, bos_id=BOS, cont_id=CONT)
    assert _max_diff(fast, ref) < 1e-4
    slides = 0
    window = SessionWindow(spec, BOS, CONT)
    for session, line in items:
        if session == "s0":
            slides += window.length + len(line) > spec.n_ctx
            window.prepare(len(line))
            window.append(line)
    assert slides > 20  # the windows really slid
    assert len(passes) < slides  # ...and did not cost a forward each
    assert scorer.model_lines + scorer.memo_hits == len(items)


def test_memo_serves_repeats_with_the_models_own_losses() -> None:
    spec, model = _random_model(1)
    # Few distinct lines over many sessions: windows repeat, so the memo is exercised.
    rng = random.Random(3)
    vocab = [[rng.randrange(4, 60) for _ in range(rng.randrange(1, 6))] + [EOL] for _ in range(4)]
    items = [(f"s{i % 25}", vocab[(i // 25 + i % 3) % 4]) for i in range(400)]
    gpt = LeanGPT(spec, dict(model.state_dict()), torch.device("cpu"))
    scorer = Scorer(gpt, bos_id=BOS, cont_id=CONT, max_batch=8, cache_slots=32)
    fast = scorer.score(items)
    assert scorer.memo_hits > 100
    assert scorer.model_lines + scorer.memo_hits == len(items)
    ref = reference_losses(model, spec, items, bos_id=BOS, cont_id=CONT)
    assert _max_diff(fast, ref) < 1e-4


def test_window_slides_by_whole_lines() -> None:
    spec = ModelSpec(vocab_size=100, n_ctx=32, max_line_tokens=8)
    window = SessionWindow(spec, BOS, CONT)
    for i in range(10):
        line = [10 + i] * 6 + [EOL]
        window.prepare(len(line))
        assert window.length + len(line) <= spec.n_ctx
        window.append(line)
    tokens = window.tokens()
    assert tokens[0] == CONT
    assert len(tokens) <= spec.n_ctx
    assert tokens[-7:] == [19] * 6 + [EOL]  # the newest line is whole
    assert (len(tokens) - 1) % 7 == 0  # only whole lines


def test_a_windows_memo_key_follows_its_tokens_through_appends_slides_and_copies() -> None:
    spec = ModelSpec(vocab_size=100, n_ctx=32, max_line_tokens=8)
    rng = random.Random(3)

    def rebuilt(window: SessionWindow) -> SessionWindow:  # the same tokens, no running hash behind them
        return SessionWindow(spec, BOS, CONT, window.marker, deque(window.lines), window.length)

    window = SessionWindow(spec, BOS, CONT)
    keys = set()
    for i in range(40):
        line = [rng.randrange(4, 9) for _ in range(rng.randrange(1, 7))] + [EOL]
        window.prepare(len(line))
        if i % 3:  # some steps ask for a key (starting the running hash), some only append
            key = window.key(line)
            assert key == rebuilt(window).key(line) == window.copy().key(line)
            keys.add((tuple(window.tokens()), tuple(line), key))
        window.append(line)
    shadow = window.copy()
    shadow.append([5, EOL])  # a copy goes on alone
    assert window.key([6, EOL]) == rebuilt(window).key([6, EOL]) != shadow.key([6, EOL])
    assert len({key for _, _, key in keys}) == len({(tokens, line) for tokens, line, _ in keys})


def test_dropping_a_session_frees_its_slot() -> None:
    spec, model = _random_model()
    gpt = LeanGPT(spec, dict(model.state_dict()), torch.device("cpu"))
    scorer = Scorer(gpt, bos_id=BOS, cont_id=CONT, max_batch=4, cache_slots=16)
    scorer.score([("a", [5, EOL]), ("b", [6, EOL])])
    assert set(scorer.windows) == {"a", "b"}
    scorer.drop("a")
    assert set(scorer.windows) == {"b"}
    assert len(scorer._slot_owner) == 1


def test_a_full_pool_gives_up_the_slot_that_is_cheapest_to_refill() -> None:
    """Out of slots, the session with the fewest cached tokens loses its slot, not the oldest one."""
    spec, model = _random_model()
    gpt = LeanGPT(spec, dict(model.state_dict()), torch.device("cpu"))
    scorer = Scorer(gpt, bos_id=BOS, cont_id=CONT, max_batch=1, cache_slots=2, memo_entries=0)
    scorer.score([("long", [5, 6, 7, 8, EOL]), ("long", [9, 10, 11, EOL])])  # oldest, 10 tokens cached
    scorer.score([("short", [12, EOL])])  # newer, 3 tokens cached
    scorer.score([("third", [13, EOL])])
    assert scorer.windows["long"].slot is not None and scorer.windows["short"].slot is None
    items = [("long", [5, 6, 7, 8, EOL]), ("long", [9, 10, 11, EOL]), ("short", [12, EOL]), ("third", [13, EOL]),
             ("short", [14, EOL]), ("long", [15, EOL])]
    fast = scorer.score(items[4:])  # "short" re-reads its window; "long" reads on from its cache
    ref = reference_losses(model, spec, items, bos_id=BOS, cont_id=CONT)[4:]
    assert _max_diff(fast, ref) < 1e-4


def test_reduced_precision_stays_within_tolerance() -> None:
    """The GPU path runs bf16 by default; its losses must stay within 0.05 nats of fp32.

    bf16 matmuls run on the CPU too, so the tolerance is checked here without a GPU.
    """
    spec, model = _random_model(2)
    items = _items(5, 120, 6, spec)
    weights = dict(model.state_dict())
    full = Scorer(LeanGPT(spec, weights, torch.device("cpu")), bos_id=BOS, cont_id=CONT, memo_entries=0).score(items)
    half = Scorer(LeanGPT(spec, weights, torch.device("cpu"), torch.bfloat16), bos_id=BOS, cont_id=CONT,
                  memo_entries=0).score(items)
    line_full = [sum(x) / len(x) for x in full]
    line_half = [sum(x) / len(x) for x in half]
    assert max(abs(a - b) for a, b in zip(line_full, line_half)) < 0.05
    assert line_full != line_half  # bf16 really ran


def test_out_of_memory_shrinks_the_batch_and_keeps_exact_losses(monkeypatch: pytest.MonkeyPatch) -> None:
    spec, model = _random_model(4)
    items = _items(9, 200, 12, spec)
    gpt = LeanGPT(spec, dict(model.state_dict()), torch.device("cpu"))
    real_step = gpt.step
    calls: list[int] = []

    def step_that_fails_on_big_batches(pool, slots, tokens, starts, lengths):  # type: ignore[no-untyped-def]
        calls.append(int(tokens.shape[0]))
        if tokens.shape[0] > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(pool, slots, tokens, starts, lengths)

    monkeypatch.setattr(gpt, "step", step_that_fails_on_big_batches)
    scorer = Scorer(gpt, bos_id=BOS, cont_id=CONT, max_batch=8, cache_slots=64, memo_entries=0)
    fast = scorer.score(items)
    ref = reference_losses(model, spec, items, bos_id=BOS, cont_id=CONT)
    assert _max_diff(fast, ref) < 1e-4
    assert scorer.oom_splits > 0 and scorer.max_batch <= 2
    assert max(calls) > 2  # the failure really happened


def test_other_runtime_errors_are_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    spec, model = _random_model(5)
    gpt = LeanGPT(spec, dict(model.state_dict()), torch.device("cpu"))

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(gpt, "step", broken)
    scorer = Scorer(gpt, bos_id=BOS, cont_id=CONT, max_batch=8, cache_slots=64, memo_entries=0)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        scorer.score(_items(2, 20, 4, spec))


def test_int8_projections_track_fp32_and_refuse_the_gpu() -> None:
    from logwatch.core.gpt import Projection
    from logwatch.core.model import ModelDirError, pick_dtype

    torch.manual_seed(0)
    weight, bias = torch.randn(64, 192) * 0.1, torch.randn(192) * 0.1  # Conv1D layout [in, out]
    x = torch.randn(3, 5, 64)
    exact = Projection(weight, bias)(x)
    quantised = Projection(weight, bias, int8=True)(x)
    assert quantised.shape == exact.shape == (3, 5, 192)
    # int8 weights and 7-bit activations: errors of a few percent of the output range, not more
    error = (quantised - exact).abs().max() / exact.abs().max()
    assert 0 < error < 0.05
    with pytest.raises(ModelDirError, match="CPU only"):
        pick_dtype(torch.device("cuda"), "int8")
    with pytest.raises(ValueError):
        LeanGPT(*_random_model()[:1], {}, torch.device("cpu"), torch.bfloat16, int8=True)



def test_auto_runs_int8_only_where_the_models_own_check_stayed_within_tolerance() -> None:
    from logwatch.core.gpt import int8_available
    from logwatch.core.model import INT8_TOLERANCE, uses_int8

    cpu = torch.device("cpu")
    kernels = int8_available()
    assert uses_int8(cpu, "auto") is kernels and uses_int8(cpu, "auto", 0.05) is kernels
    assert uses_int8(cpu, "auto", INT8_TOLERANCE) is kernels
    for over in (INT8_TOLERANCE + 0.001, float("nan"), float("inf"), -1.0):
        assert uses_int8(cpu, "auto", over) is False, over
    assert uses_int8(cpu, "auto", "0.5") is kernels  # not a number: no check recorded
    assert uses_int8(cpu, "int8", 0.5) is True and uses_int8(cpu, "fp32", 0.0) is False  # asked for


def test_int8_mode_keeps_the_first_blocks_attention_fp32() -> None:
    spec, model = _random_model()
    gpt = LeanGPT(spec, dict(model.state_dict()), torch.device("cpu"), int8=True)
    first = gpt.layers[0]
    assert first["attn.c_attn"]._packed is None and first["attn.c_proj"]._packed is None  # the outliers
    assert first["mlp.c_fc"]._packed is not None and first["mlp.c_proj"]._packed is not None
    assert all(layer[name]._packed is not None for layer in gpt.layers[1:] for name in PROJECTIONS)
    exact = LeanGPT(spec, dict(model.state_dict()), torch.device("cpu"))
    assert gpt._head is not None and exact._head is None
    # int8 mode takes torch's erf GELU (faster, within 5e-4 of GPT-2's tanh form); fp32 keeps GPT-2's own
    from logwatch.core.gpt import gelu_tanh_

    assert gpt._gelu is torch.nn.functional.gelu and exact._gelu is gelu_tanh_
    x = torch.linspace(-8, 8, 4001)
    assert (torch.nn.functional.gelu(x) - gelu_tanh_(x.clone())).abs().max() < 5e-4


def test_int8_mode_caches_keys_and_values_in_bf16_only_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import logwatch.core.gpt as gpt_module

    spec, model = _random_model()
    weights = dict(model.state_dict())
    for native in (True, False):
        monkeypatch.setattr(gpt_module, "native_bf16", lambda native=native: native)
        assert LeanGPT(spec, weights, torch.device("cpu"), int8=True).new_pool(2).kv.dtype == \
            (torch.bfloat16 if native else torch.float32)
        assert LeanGPT(spec, weights, torch.device("cpu")).new_pool(2).kv.dtype == torch.float32  # exact stays fp32
    # The cache's own error, apart from int8's: fp32 projections over a bf16 cache, against HF.
    items = _items(5, 120, 6, spec)
    gpt = LeanGPT(spec, weights, torch.device("cpu"))
    gpt.kv_dtype = torch.bfloat16
    losses = Scorer(gpt, bos_id=BOS, cont_id=CONT, max_batch=8, cache_slots=4, memo_entries=0).score(items)
    ref = reference_losses(model, spec, items, bos_id=BOS, cont_id=CONT)
    assert 0 < _max_diff(losses, ref) < 0.1  # this sharpened random model's losses reach 11 nats


def test_the_sigmoid_form_of_gelu_is_gpt2s_tanh_gelu() -> None:
    from logwatch.core.gpt import gelu_tanh_

    x = torch.linspace(-12, 12, 10_001)
    expected = torch.nn.functional.gelu(x, approximate="tanh")
    got = gelu_tanh_(x.clone())
    assert torch.allclose(got, expected, atol=2e-6, rtol=0)
    assert not torch.allclose(got, torch.nn.functional.gelu(x), atol=2e-6, rtol=0)  # tanh, not erf


# -- parked caches: a session that lost its slot gets its cached positions back, exactly --


def _interleaved(seed: int, n: int, sessions: int) -> list[tuple[str, list[int]]]:
    """Many sessions taking turns: with few slots every session keeps losing its slot."""
    rng = random.Random(seed)
    return [(f"s{i % sessions}", [rng.randrange(4, 60) for _ in range(rng.randrange(1, 7))] + [EOL])
            for i in range(n)]


@pytest.mark.parametrize("park_bytes", [0, 1 << 30])
def test_sessions_that_lose_their_slot_score_exactly_parked_or_not(park_bytes: int) -> None:
    spec, model = _random_model(3)
    items = _interleaved(4, 360, 12)  # 12 sessions through 4 slots; windows of 48 tokens slide too
    gpt = LeanGPT(spec, dict(model.state_dict()), torch.device("cpu"))
    scorer = Scorer(gpt, bos_id=BOS, cont_id=CONT, max_batch=2, cache_slots=4, memo_entries=0,
                    park_bytes=park_bytes)
    fast: list[list[float]] = []
    for start in range(0, len(items), 7):
        fast += scorer.score(items[start : start + 7])
    ref = reference_losses(model, spec, items, bos_id=BOS, cont_id=CONT)
    assert _max_diff(fast, ref) < 1e-4
    if park_bytes:
        assert scorer.parking.restored_tokens > 500  # the parked path really ran
    else:
        assert scorer.parking.restored_tokens == 0 and len(scorer.parking) == 0


def test_a_window_that_slid_while_parked_is_read_afresh() -> None:
    """Positions parked at one window start mean nothing after a slide: they are not restored."""
    spec, model = _random_model(5)
    gpt = LeanGPT(spec, dict(model.state_dict()), torch.device("cpu"))
    scorer = Scorer(gpt, bos_id=BOS, cont_id=CONT, max_batch=1, cache_slots=1, memo_entries=0)
    long_line = [7] * 14 + [EOL]
    items = [("a", long_line), ("a", long_line), ("a", long_line), ("b", [9, EOL]),  # "a" parks 46 positions
             ("a", [8] * 9 + [EOL])]  # 46 + 10 > 48: "a" slides, so its parked positions are stale
    fast = [losses for item in items for losses in scorer.score([item])]
    assert scorer.parking.restored_tokens == 0
    assert _max_diff(fast, reference_losses(model, spec, items, bos_id=BOS, cont_id=CONT)) < 1e-4
    scorer.score([("b", [10, EOL])])  # "a" parks again, at its new start...
    scorer.score([("a", [11, EOL])])
    assert scorer.parking.restored_tokens > 0  # ...and gets it back


def _pool_with(values: list[float]) -> KVPool:
    spec = ModelSpec(vocab_size=20, n_layer=1, n_head=1, n_embd=8, n_ctx=8, max_line_tokens=4)
    pool = KVPool(spec, torch.device("cpu"), torch.float32, len(values))
    for slot, value in enumerate(values):
        pool.keys[:, slot].fill_(value)
        pool.values[:, slot].fill_(-value)
    return pool


def test_the_lot_keeps_to_its_budget_dropping_the_least_recently_parked() -> None:
    pool = _pool_with([1.0, 2.0, 3.0])
    per_entry = 2 * 4 * 8 * 4  # keys and values, 4 positions of 8 floats
    lot = ParkingLot(2 * per_entry)
    for slot, session in enumerate(["a", "b", "c"]):
        lot.park(session, pool, slot, 4, torch.zeros(8), start=1)
    assert len(lot) == 2 and lot.nbytes == 2 * per_entry
    assert lot.restore("a", pool, 0, start=1) is None  # the oldest went
    pool.keys.zero_()
    pool.values.zero_()
    parked = lot.restore("b", pool, 0, start=1)
    assert parked is not None and parked.length == 4
    assert pool.keys[0, 0, :4].eq(2.0).all() and pool.values[0, 0, :4].eq(-2.0).all()
    assert pool.keys[0, 0, 4:].eq(0.0).all()  # only the parked positions come back
    assert lot.restore("c", pool, 1, start=2) is None  # another window start: stale, and gone
    assert len(lot) == 0 and lot.nbytes == 0


def test_a_marker_alone_or_a_zero_budget_is_not_parked() -> None:
    pool = _pool_with([1.0])
    lot = ParkingLot(1 << 20)
    lot.park("a", pool, 0, 1, torch.zeros(8), start=1)
    assert len(lot) == 0
    off = ParkingLot(0)
    off.park("a", pool, 0, 5, torch.zeros(8), start=1)
    assert len(off) == 0 and off.nbytes == 0
