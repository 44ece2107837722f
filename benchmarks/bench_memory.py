"""Memory on an endless stream: push N lines (default 1M) through the headless path, report RSS.

The input is generated on the fly (fresh instances, fresh request ids, a clock that moves) so
nothing but the engine's own state can grow: sessions are evicted when idle or over the cap,
KV-cache slots are recycled, the memo is bounded. RSS is sampled every chunk; a bounded
engine shows a flat curve after warm-up.

    python benchmarks/bench_memory.py                    # 1M lines, default model
    python benchmarks/bench_memory.py --lines 200000 --json
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Iterator


def rss_mb() -> float:
    """Current resident set size (Linux /proc), falling back to the peak."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        import os

        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return peak_rss_mb()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def endless_lines(seed: int) -> Iterator[str]:
    """Generated nova logs back to back, each with new instances and a later start time."""
    from datetime import datetime, timedelta

    from logwatch.core.generator import INCIDENT_KINDS, generate_log

    start = datetime(2017, 5, 16)
    hour = 0
    while True:
        stamp = (start + timedelta(hours=hour)).strftime("%Y-%m-%d %H:%M:%S")
        kinds = [INCIDENT_KINDS[hour % len(INCIDENT_KINDS)]]
        yield from generate_log(seed=seed + hour, n_instances=400, incidents=kinds, start=stamp).lines
        hour += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model directory (default: bundled)")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=2_000, help="lines per engine call")
    parser.add_argument("--max-sessions", type=int, default=20_000, help="engine's session cap")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from logwatch.core.engine import Engine
    from logwatch.core.types import LogLine

    engine = Engine.load(args.model, device="cpu", max_sessions=args.max_sessions, idle_seconds=300.0)
    source = endless_lines(args.seed)
    samples: list[tuple[int, float]] = []
    done, alerts, clock = 0, 0, 0.0
    started = time.perf_counter()
    while done < args.lines:
        n = min(args.chunk, args.lines - done)
        # A simulated arrival clock at ~1,000 lines/s, so idle eviction behaves as it would live.
        batch = [LogLine(n=done + i + 1, text=next(source), source="stream", arrival=clock + i / 1000)
                 for i in range(n)]
        clock += n / 1000
        alerts += sum(s.alert for s in engine.score_batch(batch))
        engine.evict_idle(clock)
        done += n
        if done % 50_000 < args.chunk or done == args.lines:
            samples.append((done, round(rss_mb(), 1)))
            if not args.json:
                print(f"{done:>9,} lines  rss {samples[-1][1]:>7.1f} MB  sessions {len(engine.sessions):,}  "
                      f"{done / (time.perf_counter() - started):,.0f} lines/s", flush=True)
    seconds = time.perf_counter() - started
    result = {
        "lines": done,
        "seconds": round(seconds, 1),
        "lines_per_s": round(done / seconds, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_after_warmup_mb": samples[min(1, len(samples) - 1)][1],
        "rss_end_mb": samples[-1][1],
        "open_sessions_end": len(engine.sessions),
        "alerts": alerts,
        "rss_samples": samples,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{done:,} lines in {seconds:.0f}s ({result['lines_per_s']:,.0f} lines/s); peak RSS {result['peak_rss_mb']:.0f} MB, "
          f"RSS after 50k lines {result['rss_after_warmup_mb']:.0f} MB, at the end {result['rss_end_mb']:.0f} MB")


if __name__ == "__main__":
    main()
