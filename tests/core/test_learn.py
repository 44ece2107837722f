"""Learning a log: what is learned from, the tokenizer transfer, the threshold, and what is refused."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from logwatch.core.batching import score_lines
from logwatch.core.engine import Engine
from logwatch.core.generator import generate_log
from logwatch.core.known_normal import KnownNormal
from logwatch.core.learning.learn import (
    LearnConfig,
    LearnError,
    learn,
    session_patterns,
    transfer_embeddings,
    usable_sessions,
)
from logwatch.core.learning.memory import learned_dir_name
from logwatch.core.learning.status import learned_errors_note
from logwatch.core.model import load_model_dir
from logwatch.core.tokenizer import LogTokenizer
from logwatch.core.types import LogLine

#: A few seconds of training: enough to check the recipe, not its quality (the benchmarks do that).
QUICK = LearnConfig(token_budget=6_000, max_seconds=30, min_lines=100)
INSTANCE = "[instance: 1b2c3d4e-0000-4000-8000-{:012d}]"


def _other_log(seed: int = 31, instances: int = 25, incidents: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    log = generate_log(seed=seed, n_instances=instances, incidents=incidents, dialect="other")
    return [("other.log", t) for t in log.lines]


def test_rare_errors_and_late_rare_warnings_are_left_out_but_routine_ones_stay() -> None:
    texts = []
    for i in range(400):
        texts.append(("x", f"INFO nova.compute.manager {INSTANCE.format(i)} Claim successful"))
        if i % 10 == 0:
            texts.append(("x", "ERROR nova.virt.libvirt routine probe failure"))  # 40 of 440: this log's normal
        if i % 40 == 0:
            texts.append(("x", "WARNING nova.imagecache Unknown base file"))  # rare, but there from the start
    texts.insert(300, ("x", f"ERROR nova.compute.manager {INSTANCE.format(7)} Instance failed to spawn"))
    texts.insert(350, ("x", "WARNING nova.resource_tracker Host has insufficient disk"))  # rare and late
    kept, left = usable_sessions(texts, "builtin", LearnConfig())
    lines = [t for ls in kept.values() for t in ls]
    assert not any("failed to spawn" in t for t in lines)
    assert not any(t.endswith("Claim successful") and INSTANCE.format(7) in t for t in lines)  # its session too
    assert not any("insufficient disk" in t for t in lines)
    assert sum("routine probe failure" in t for t in lines) == 40 and any("Unknown base file" in t for t in lines)
    assert left == {"lines_left_out": 3, "sessions_left_out": 1, "error_patterns_left_out": 2}
    # what is kept is learned as normal, and the operator is told which errors that includes
    assert session_patterns(kept)[1] == {"ERROR nova.virt.libvirt routine probe failure": 40}
    summary = {"error_patterns_learned": 1, "errors_learned": [["ERROR nova.virt.libvirt routine probe failure", 40]]}
    assert learned_errors_note(summary) == ("; learned as normal: 1 error pattern, the most frequent "
                                            "'ERROR nova.virt.libvirt routine probe failure' (40 lines)")
    assert learned_errors_note({"error_patterns_learned": 0, "errors_learned": []}) == ""
    assert learned_errors_note({"error_patterns_learned": 2, "errors_learned": [["x", "40"]]}) == ""  # not from learn
    marked = KnownNormal.from_lines([f"ERROR nova.compute.manager {INSTANCE.format(99)} Instance failed to spawn"])
    kept, _ = usable_sessions(texts, "builtin", LearnConfig(), marked)  # marked normal by the operator: learned
    assert any("failed to spawn" in t for ls in kept.values() for t in ls)


def test_a_left_out_error_takes_the_rest_of_its_entry_with_it() -> None:
    vm = INSTANCE.format(1)
    texts = []
    for i in range(70):  # a long session (over 64 lines): only its suspect lines go, not all of it
        texts.append(("x", f"INFO nova.compute.manager {vm} Heartbeat {i}"))
        if i == 40:
            texts += [("x", f"ERROR nova.compute.manager {vm} Instance failed to spawn"),
                      ("x", "Traceback (most recent call last):"),
                      ("x", '  File "/usr/lib/python2.7/dist-packages/nova/compute/manager.py", line 1926, in _build'),
                      ("x", "    filter_properties)"),
                      ("x", "RescheduledException: Build of instance was re-scheduled")]
    kept, left = usable_sessions(texts, "builtin", LearnConfig())
    assert kept == {"1b2c3d4e-0000-4000-8000-000000000001": [t for _, t in texts if "Heartbeat" in t]}
    assert left["lines_left_out"] == 5


def test_embeddings_move_to_a_new_tokenizer(tiny_model_dir: Path) -> None:
    base = load_model_dir(tiny_model_dir)
    masked = [f"INFO nova.api.openstack.requestlog GET /v2.1/servers/detail microversion <NUM> {w}"
              for w in ("alpha", "beta", "gamma") for _ in range(20)]
    new = LogTokenizer.train(masked, vocab_size=400)
    rows = transfer_embeddings(base, new)
    assert rows.shape == (new.vocab_size, base.weights["transformer.wte.weight"].shape[1])
    old_vocab, old_wte = base.tokenizer.vocab(), base.weights["transformer.wte.weight"]
    shared = [piece for piece in new.vocab() if piece in old_vocab]
    assert shared and all(torch.equal(rows[new.vocab()[p]], old_wte[old_vocab[p]]) for p in shared)
    novel = next(p for p in new.vocab() if p not in old_vocab)
    pieces = base.tokenizer.encode_text(new.decode([new.vocab()[novel]]))
    assert torch.allclose(rows[new.vocab()[novel]], old_wte[pieces].mean(dim=0))


def test_learning_a_log_the_model_never_saw(tiny_model_dir: Path) -> None:
    base = load_model_dir(tiny_model_dir)
    window = _other_log()
    # Enough steps for the tiny model to learn the log's phrase tokens (placeholders attached to
    # them make more, rarer tokens; at 6,000 tokens 3% of the window stayed over the threshold).
    config = replace(QUICK, token_budget=24_000)
    learned = learn(base, window, config=config, label="learned: t")
    model = learned.model
    assert model.calibration is not None and model.calibration.method == "learned"
    from logwatch.core.gpt import int8_available

    if int8_available():  # how far int8 strays on the held-out lines decides what auto runs
        checked = model.calibration.details["int8_max_diff"]
        assert isinstance(checked, float) and 0.0 < checked < 1.0
        def last_projection() -> object:
            return Engine(loaded=model, device="cpu").scorer.gpt.layers[-1]["attn.c_attn"]  # type: ignore[union-attr]

        assert last_projection()._packed is not None  # type: ignore[attr-defined]
        original = model.calibration  # a model int8 strays on: auto keeps fp32
        model.calibration = replace(original, details={**original.details, "int8_max_diff": 0.5})
        assert last_projection()._packed is None  # type: ignore[attr-defined]
        model.calibration = original
    assert model.tokenizer.vocab_size != base.tokenizer.vocab_size and model.name == "learned: t"
    assert model.pattern_counts is not None and len(model.pattern_counts) > 10
    # what a known line in a new place is measured against: the window's pairs and its token threshold
    assert model.pattern_pairs and all(a in model.pattern_counts and b in model.pattern_counts
                                       for a, b in model.pattern_pairs)
    assert model.calibration.token_threshold is not None and model.calibration.token_threshold > 0
    assert Engine(loaded=model, device="cpu").rule.normal_pairs == model.pattern_pairs
    summary = learned.summary
    assert summary["usable_lines"] == len(window) and summary["tokens"] > 0 and summary["steps"] > 0
    assert summary["tokens_per_line"]["learned"] < summary["tokens_per_line"]["base"]  # the new words fit
    most = base.spec.n_ctx - 1 - base.spec.max_line_tokens
    assert base.spec.slide_keep is None and model.spec.slide_keep == min(config.slide_keep, most)
    # the threshold is at least the held-out line quantile: few normal lines of the log go over it
    engine = Engine(loaded=model, device="cpu")
    scored = list(score_lines(engine, [LogLine(n=i, text=t, source=s, arrival=0.0) for i, (s, t) in enumerate(window, 1)]))
    over = sum(engine.rule.surprising(x.loss) for x in scored)
    assert over / len(scored) < 0.02


@pytest.mark.parametrize("lines, message", [
    ([("x", f"INFO a b {i}") for i in range(20)], "too few lines"),
    ([("x", f"ERROR nova.x {INSTANCE.format(i)} boom {random.Random(i).random()}") for i in range(300)], "are errors"),
    ([("x", "".join(random.Random(i).choices("qwxzjkvbnm", k=30))) for i in range(400)], "hardly repeat"),
])
def test_a_window_that_cannot_be_learned_says_why(tiny_model_dir: Path, lines: list[tuple[str, str]],
                                                   message: str) -> None:
    with pytest.raises(LearnError, match=message):
        learn(load_model_dir(tiny_model_dir), lines, config=QUICK)


def test_learned_models_are_named_after_the_log() -> None:
    assert learned_dir_name("/var/log/nova/nova-compute.log") == "nova-compute.log"
    assert learned_dir_name("-") == "stdin" and learned_dir_name("/tmp/[a b]/x y.log") == "x_y.log"
    assert learned_dir_name("/tmp/..") == "log"


def test_the_time_budget_counts_from_when_the_learning_began(tiny_model_dir: Path) -> None:
    # the child process passes when the parent started it: its own start-up counts against the budget
    import time

    learned = learn(load_model_dir(tiny_model_dir), _other_log(), config=QUICK, started=time.time() - 1000)
    assert learned.summary["seconds"] >= 1000
    later = learn(load_model_dir(tiny_model_dir), _other_log(), config=QUICK, started=time.time() + 1000)
    assert later.summary["seconds"] < 1000  # a start in the future (a clock that stepped back) is now
