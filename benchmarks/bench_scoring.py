"""Scoring throughput: the study's loop vs logwatch's engine, side by side in one run.

(a) the study's loop: for every line, re-encode its session's last 128 tokens with HF
    GPT2LMHeadModel, LM head over every position, no cache, one line at a time;
(b) the engine in fp32 (exact): KV cache per session, LM head on new tokens only, batches across
    sessions, memoised repeats;
(c) the same engine in int8 (dynamic int8 projections; what ``auto`` runs on a CPU), with the largest
    per-line loss difference from (b).
All score the same lines with the same weights. Prints lines/s of each, the ratio and the
peak RSS; ``--json`` prints one object instead.

    python benchmarks/bench_scoring.py                 # default model, 20k generated nova lines
    python benchmarks/bench_scoring.py --lines 5000 --json
    python benchmarks/bench_scoring.py --real ../shared/data/openstack/logparser_random_samples/OpenStack_*.log \
        --learn --baseline-lines 1000 --whole       # real lines, steady state (a model that learned them)

``--baseline-lines N`` times the slow study loop on N lines spread evenly over the input (each
with its session's real history), not on all of them.
``--real FILES`` scores those files' lines (all of them, in order) instead of generated ones.
``--learn`` first learns the input the way ``logwatch score`` does (its first 5,000 lines, the
time reported apart) and measures the learned model: the steady state of a log logwatch knows.
``--whole`` also times ``logwatch score`` on the same files as a separate process (start-up,
reading, parsing and JSON writing included).
``--rounds N`` (default 3) times the study loop and the whole process N times, alternated, and
takes the median of each: this VM's speed drifts by a fifth or more within minutes, and one
unlucky stretch under one side of a single pair moves the ratio as much. The loop is warmed up
first, as the engine is: cold, its first pass ran 124 lines/s where the next two ran 149-156.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_lines(n: int, seed: int) -> list[str]:
    from logwatch.core.generator import INCIDENT_KINDS, generate_log

    lines: list[str] = []
    while len(lines) < n:
        log = generate_log(seed=seed, n_instances=400, incidents=list(INCIDENT_KINDS)[:3])
        lines.extend(log.lines)
        seed += 1
    return lines[:n]


def study_loop(loaded, items: list[tuple[str, list[int]]], n_timed: int) -> float:
    """Seconds per line of the study's per-line full re-encode of a 128-token sliding window.

    Every line extends its session's history, but only ``n_timed`` lines spread evenly over
    the input run the model: the average over the whole input, whose later windows are longer
    than its first lines' (timing only the first lines would flatter the loop).
    """
    from logwatch.core.model import hf_model

    model = hf_model(loaded.spec, loaded.weights).eval()
    history: dict[str, list[int]] = {}
    n_ctx = loaded.spec.n_ctx
    every = max(1, len(items) // max(1, n_timed))
    timed, seconds = 0, 0.0
    with torch.inference_mode():
        for index, (session, line) in enumerate(items):
            context = history.setdefault(session, [loaded.tokenizer.bos_id])
            window = (context + line)[-n_ctx:]
            if index % every == 0 and timed < n_timed:
                start = time.perf_counter()
                logits = model(torch.tensor([window])).logits[0]  # [T, V]: full head on every position
                k = min(len(line), len(window) - 1)
                torch.nn.functional.cross_entropy(logits[-k - 1 : -1], torch.tensor(window[-k:]))
                seconds += time.perf_counter() - start
                timed += 1
            context.extend(line)
            del context[: max(0, len(context) - n_ctx)]
    return seconds / max(1, timed)


def run_engine(model: str | None, lines: list, batch: int, memo: bool, precision: str):
    """(seconds, scored lines, engine) for one pass of a fresh engine, after a warm-up pass."""
    from logwatch.core.engine import Engine

    def fresh() -> Engine:
        return Engine.load(model, device="cpu", memo_entries=200_000 if memo else 0, precision=precision)

    fresh().score_batch(lines[:64])  # warm-up (allocations, first kernels)
    engine = fresh()
    start = time.perf_counter()
    scored = []
    for i in range(0, len(lines), batch):
        scored.extend(engine.score_batch(lines[i : i + batch]))
    return time.perf_counter() - start, scored, engine


def main() -> None:
    from logwatch.core.reader import BATCH_LINES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model directory (default: bundled)")
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--baseline-lines", type=int, default=None,
                        help="time the slow study loop on N lines spread evenly over the input (default: all)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch", type=int, default=BATCH_LINES, help="lines handed to the engine per call")
    parser.add_argument("--no-memo", action="store_true", help="disable memoisation (measures the model path alone)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--real", nargs="+", metavar="FILE", help="score these real logs instead of generated lines")
    parser.add_argument("--learn", action="store_true", help="learn the input first and measure the learned model")
    parser.add_argument("--whole", action="store_true", help="also time `logwatch score` as a whole process")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternated timings of the study loop (and the whole process); medians are reported")
    args = parser.parse_args()

    from logwatch.core.masking import mask_line
    from logwatch.core.types import LogLine

    if args.real:
        texts = [t for path in args.real for t in Path(path).read_text(encoding="utf-8", errors="replace").splitlines()]
    else:
        texts = bench_lines(args.lines, args.seed)
    lines = [LogLine(n=i + 1, text=t, source="bench.log", arrival=0.0) for i, t in enumerate(texts)]
    extra: dict[str, object] = {}
    tmp = tempfile.TemporaryDirectory()
    if args.learn:
        from logwatch.core.learning.learn import learn
        from logwatch.core.model import load_model_dir, write_model_dir

        started = time.perf_counter()
        learned = learn(load_model_dir(args.model), [("bench.log", t) for t in texts[:5000]])
        extra["learn_seconds"] = round(time.perf_counter() - started, 1)
        write_model_dir(learned.model, Path(tmp.name) / "learned")
        args.model = str(Path(tmp.name) / "learned")
    whole_cmd: list[str] | None = None
    if args.whole:
        joined = Path(tmp.name) / "bench.log"  # one file: `score` reads one PATH
        joined.write_text("\n".join(texts) + "\n", encoding="utf-8")
        whole_cmd = [sys.executable, "-m", "logwatch.cli.main", "score", str(joined), "--learn", "off"]
        if args.model:
            whole_cmd += ["--model", args.model]
    engine_s, scored, engine = run_engine(args.model, lines, args.batch, not args.no_memo, "fp32")
    int8_s, scored_int8, _ = run_engine(args.model, lines, args.batch, not args.no_memo, "int8")
    int8_diff = max(abs(a.loss - b.loss) for a, b in zip(scored, scored_int8) if a.loss is not None)

    loaded = engine.loaded
    spec = loaded.spec
    n_base = min(args.baseline_lines or len(texts), len(texts))
    ids = loaded.tokenizer.encode_lines([mask_line(t) for t in texts], max_tokens=spec.max_line_tokens)
    items = [(s.session, i) for s, i in zip(scored, ids)]
    loop_rates: list[float] = []
    whole_rates: list[float] = []
    # Untimed first pass: the loop's first forwards at each window length are slower (kernel set-up),
    # and the engine's runs had their warm-up; the loop is then timed at its own steady speed.
    study_loop(loaded, items, min(n_base, 300))
    for _round in range(max(1, args.rounds)):  # alternated, so a slow stretch of the VM hits both sides
        loop_rates.append(1.0 / study_loop(loaded, items, n_base))
        if whole_cmd is not None:
            started = time.perf_counter()
            subprocess.run(whole_cmd, stdout=subprocess.DEVNULL, check=True)
            whole_rates.append(len(texts) / (time.perf_counter() - started))
    base_rate = statistics.median(loop_rates)
    extra["baseline_rounds"] = [round(r, 1) for r in loop_rates]
    if whole_rates:
        extra["whole_process_lines_per_s"] = round(statistics.median(whole_rates), 1)
        extra["whole_process_rounds"] = [round(r, 1) for r in whole_rates]
        extra["whole_process_speedup_rounds"] = [round(w / b, 1) for w, b in zip(whole_rates, loop_rates)]

    result = {
        "lines": len(texts),
        "baseline_lines": n_base,
        "baseline_lines_per_s": round(base_rate, 1),
        "engine_lines_per_s": round(len(texts) / engine_s, 1),
        "speedup": round((len(texts) / engine_s) / base_rate, 1),
        "int8_lines_per_s": round(len(texts) / int8_s, 1),
        "int8_speedup": round((len(texts) / int8_s) / base_rate, 1),
        "int8_max_loss_diff": round(int8_diff, 4),
        "memo_hit_rate": round(engine.scorer.memo_hits / max(1, len(texts)), 3),
        "sessions": len({s.session for s in scored}),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "torch_threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or ''} cores={torch.get_num_threads()}".strip(),
        "torch": torch.__version__,
        **extra,
    }
    if args.json:
        print(json.dumps(result))
        return
    kind = "real" if args.real else "generated nova"
    print(f"input: {result['lines']:,} {kind} lines, {result['sessions']:,} sessions, model {engine.model_name}"
          + (f" (learned in {extra['learn_seconds']} s from the first 5,000 lines)" if "learn_seconds" in extra else ""))
    rounds = len(loop_rates)
    print(f"(a) study loop (re-encode window, full head): {result['baseline_lines_per_s']:>9,.1f} lines/s  "
          f"(timed on {n_base:,} lines spread over the input; median of {rounds}: "
          f"{', '.join(f'{r:,.1f}' for r in loop_rates)})")
    print(f"(b) logwatch engine, fp32 (exact):            {result['engine_lines_per_s']:>9,.1f} lines/s  "
          f"(memo hit rate {result['memo_hit_rate']:.0%})")
    print(f"(c) logwatch engine, int8 (the CPU default):  {result['int8_lines_per_s']:>9,.1f} lines/s  "
          f"(largest per-line loss difference from (b): {result['int8_max_loss_diff']} nats)")
    if "whole_process_lines_per_s" in extra:
        print(f"(d) `logwatch score` as a whole process:      {extra['whole_process_lines_per_s']:>9,.1f} lines/s  "
              f"({result['whole_process_lines_per_s'] / result['baseline_lines_per_s']:.1f}x the study loop; "
              f"median of {rounds} alternated with (a): "
              f"{', '.join(f'{r:,.1f}' for r in whole_rates)} lines/s, "
              f"{', '.join(f'{w / b:.1f}x' for w, b in zip(whole_rates, loop_rates))} round by round)")
    print(f"speed-up: {result['speedup']}x (int8: {result['int8_speedup']}x)    "
          f"peak RSS: {result['peak_rss_mb']:.0f} MB    torch threads: {result['torch_threads']}")


if __name__ == "__main__":
    main()
