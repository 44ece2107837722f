"""The app under load: does it keep up with a live stream, and do keys stay snappy?

A writer thread appends generated nova lines to a file at a fixed rate (default 1,000
lines/s) while the app (headless, ``run_test``) follows it with the bundled model. Every
0.25 s a key (up/down) is posted and the time until its action ran on the UI thread is
measured. Prints the
key latency percentiles, the scoring backlog (queue depth) over time and whether the app
kept up (lines shown vs lines written).

    python benchmarks/bench_tui.py                      # 50k lines at 1,000 lines/s
    python benchmarks/bench_tui.py --lines 20000 --rate 2000 --json
    python benchmarks/bench_tui.py --real ../shared/data/openstack/logparser_random_samples/OpenStack_14k.log \
        --lines 14000 --rate 1000 --learn auto            # real lines; the app learns them meanwhile

``--real FILE`` streams that file's lines (repeated to ``--lines``) instead of generated ones;
``--learn auto|fresh|N`` lets the app learn the log while it streams (the learned model is
kept in a temporary state directory): the key latencies taken while it learned (or learned
again, ``--relearn N``) are reported apart, with the learning time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path


def writer(path: Path, lines: list[str], rate: float, done: threading.Event) -> None:
    """Append lines at ``rate`` lines/s in 10 ms slices, like a busy service would."""
    start = time.perf_counter()
    written = 0
    with path.open("a") as f:
        while written < len(lines):
            due = min(len(lines), int((time.perf_counter() - start) * rate) + 1)
            if due > written:
                f.write("\n".join(lines[written:due]) + "\n")
                f.flush()
                written = due
            time.sleep(0.01)
    done.set()


async def measure(lines: list[str], rate: float, model: str | None, learn: str = "off", relearn: int = 0) -> dict:
    from logwatch.tui.app import LogwatchApp
    from logwatch.tui.pipeline import PipelineConfig

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "live.log"
        path.write_text("")
        app = LogwatchApp(PipelineConfig.build(paths=[str(path)], follow=True, model_dir=model, device="cpu", learn=learn,
                                         relearn=relearn))
        latencies: list[float] = []
        learning_latencies: list[float] = []
        learned_note = ""
        relearned_notes: list[str] = []
        backlog: list[int] = []
        when: list[tuple[float, float]] = []  # (latency ms, seconds into the stream) of each key
        async with app.run_test(size=(160, 45)) as pilot:
            while app.status.state == "loading model":
                await asyncio.sleep(0.05)
            done = threading.Event()
            thread = threading.Thread(target=writer, args=(path, lines, rate, done), daemon=True)
            started = time.perf_counter()
            thread.start()
            # Latency = key posted → its action ran on the UI thread (what a user feels, minus
            # drawing). Pilot.press would wait for the app to go idle, which a stream never does.
            from logwatch.tui.widgets.log_view import LogView

            handled: list[float] = []
            original = LogView.action_cursor

            def timed(view: LogView, delta: int) -> None:
                original(view, delta)
                handled.append(time.perf_counter())

            LogView.action_cursor = timed  # type: ignore[method-assign]
            i = 0
            while not done.is_set() or app.status.lines < len(lines):
                before = len(handled)
                t = time.perf_counter()
                app.simulate_key("down" if i % 2 else "up")
                while len(handled) == before and time.perf_counter() - t < 10:
                    await asyncio.sleep(0.001)
                if len(handled) > before:
                    latencies.append((handled[-1] - t) * 1000)
                    when.append((latencies[-1], t - started))
                    if app.status.learning:
                        learning_latencies.append(latencies[-1])
                if "learned this log" in app.status.note:
                    learned_note = app.status.note
                if "learned again" in app.status.note and app.status.note not in relearned_notes:
                    relearned_notes.append(app.status.note)
                backlog.append(app.status.queued)
                i += 1
                await asyncio.sleep(0.25)
                if time.perf_counter() - started > len(lines) / rate + 120:
                    break
            LogView.action_cursor = original  # type: ignore[method-assign]
            elapsed = time.perf_counter() - started
            shown = app.status.lines
            await pilot.press("q")
    latencies.sort()
    learning_latencies.sort()
    during = {"key_ms_p95_while_learning": round(learning_latencies[int(0.95 * (len(learning_latencies) - 1))], 1),
              "key_ms_max_while_learning": round(learning_latencies[-1], 1),
              "keys_while_learning": len(learning_latencies)} if learning_latencies else {}
    return {**during, "learning": learned_note or "-", "learned_again": relearned_notes or "-",
        "lines": len(lines), "rate_in": rate, "lines_shown": shown, "seconds": round(elapsed, 1),
        "kept_up": shown == len(lines) and elapsed < len(lines) / rate + 5,
        "key_ms_p50": round(statistics.median(latencies), 1),
        "key_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "key_ms_max": round(latencies[-1], 1),
        "keys_over_100ms": f"{sum(ms > 100 for ms, _ in when)} of {len(when)}, at "
                           + (", ".join(f"{at:.1f} s" for ms, at in when if ms > 100) or "-"),
        "queue_max": max(backlog), "queue_last": backlog[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=1_000.0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--real", metavar="FILE", help="stream this log's lines instead of generated ones")
    parser.add_argument("--learn", default="off", help="the app's --learn (default off: the bundled model as is)")
    parser.add_argument("--relearn", type=int, default=0, help="the app's --relearn (default 0: only on key L)")
    args = parser.parse_args()
    import gc

    from logwatch.cli.main import GC_YOUNG_THRESHOLD
    from logwatch.core.generator import INCIDENT_KINDS, generate_log

    gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)  # as the logwatch command runs the app

    lines: list[str] = []
    if args.real:
        real = Path(args.real).read_text(encoding="utf-8", errors="replace").splitlines()
        while len(lines) < args.lines:
            lines += real
    seed = 300
    while len(lines) < args.lines:
        lines += generate_log(seed=seed, n_instances=400, incidents=list(INCIDENT_KINDS)[:2]).lines
        seed += 1
    with tempfile.TemporaryDirectory() as state:
        import os

        os.environ["XDG_STATE_HOME"] = state  # a learned model is not left behind in the user's state
        result = asyncio.run(measure(lines[: args.lines], args.rate, args.model, args.learn, args.relearn))
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
