"""Soak: N mixed good and bad lines through `logwatch score` and the app, recorded, killed, replayed.

Checks that nothing is lost or duplicated and that replays reproduce the live alerts:
  1. `logwatch score FILE --record A` prints N objects; `--replay A` prints the same ones;
  2. `logwatch score FILE --follow --record B` is killed with SIGKILL mid-run; B replays a
     clean prefix of the input;
  3. the app (headless run_test) reads FILE with `--record C`; its line count and alerted
     sessions match the headless run, and replaying C in the app gives the same again.

    python benchmarks/soak.py                  # 200k lines, bundled model (~3-6 min on 2 cores)
    python benchmarks/soak.py --lines 5000 --model DIR --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BAD_LINES = (
    b"\x1b]0;pwned\x07 title change", b"\x1b[2J\x1b[H clear screen", b"[bold red]markup[/] [link=x]y[/link]",
    b"\xff\xfe\xfd invalid utf-8 \xc3\x28", b"nul\x00inside\x00", b"carriage\rreturn", b"\t\ttabs\t",
)


def write_mixed_log(path: Path, n: int, seed: int = 5) -> None:
    """Generated nova traffic with hostile lines mixed in (about 1 in 50), and one 1 MB line."""
    from logwatch.core.generator import INCIDENT_KINDS, generate_log

    rng = random.Random(seed)
    written = 0
    with path.open("wb") as out:
        hour = 0
        while written < n:
            log = generate_log(seed=seed + hour, n_instances=300, incidents=[INCIDENT_KINDS[hour % 6]],
                               start=f"2017-05-{16 + hour // 24:02d} {hour % 24:02d}:00:00")
            for text in log.lines:
                if written >= n:
                    break
                if rng.random() < 0.02:
                    out.write(rng.choice(BAD_LINES) + b"\n")
                elif written == n // 2:
                    out.write(b"huge " + b"x" * 1_000_000 + b"\n")
                else:
                    out.write(text.encode() + b"\n")
                written += 1
            hour += 1


def _score(args: list[str], **kw: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "logwatch.cli.main", "score", *args], capture_output=True,
                          timeout=3600, **kw)  # type: ignore[call-overload]


def _alerted(rows: list[dict]) -> set[str]:
    return {r["session"] for r in rows if r["alert"]}


def headless(log: Path, work: Path, model: list[str], n: int) -> dict:
    live = _score([str(log), "--record", str(work / "a.lwrec"), *model])
    assert live.returncode == 0, live.stderr.decode()[-500:]
    rows = [json.loads(x) for x in live.stdout.splitlines()]
    replay = _score(["--replay", str(work / "a.lwrec")])
    replayed = [json.loads(x) for x in replay.stdout.splitlines()]
    assert len(rows) == n, (len(rows), n)
    assert [r["n"] for r in rows] == list(range(1, n + 1))
    assert replayed == rows, "replay differs from the live run"
    return {"lines": len(rows), "alerted_sessions": sorted(_alerted(rows))}


def killed(log: Path, work: Path, model: list[str], wait_bytes: int = 200_000) -> dict:
    rec = work / "b.lwrec"
    cmd = [sys.executable, "-m", "logwatch.cli.main", "score", str(log), "--follow", "--record", str(rec), *model]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not (rec.exists() and rec.stat().st_size > wait_bytes):
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    replay = _score(["--replay", str(rec)])
    assert replay.returncode == 0
    rows = [json.loads(x) for x in replay.stdout.splitlines()]
    assert rows and [r["n"] for r in rows] == list(range(1, len(rows) + 1)), "the prefix has holes"
    return {"replayed_after_kill": len(rows)}


def in_app(log: Path, work: Path, model_dir: str | None) -> dict:
    from logwatch.tui.app import LogwatchApp
    from logwatch.tui.pipeline import PipelineConfig

    async def run(config: PipelineConfig) -> tuple[int, set[str]]:
        app = LogwatchApp(config)
        async with app.run_test(size=(120, 40)) as pilot:
            while app.status.state not in ("input ended", "stopped"):
                await asyncio.sleep(0.1)
            await pilot.pause()
            lines, alerted = app.status.lines, {k for k, v in app.state.sessions.items() if v.alerted}
            await pilot.press("q")
        return lines, alerted

    rec = work / "c.lwrec"
    live = asyncio.run(run(PipelineConfig.build(paths=[str(log)], follow=False, model_dir=model_dir, device="cpu",
                                          record=str(rec))))
    replay = asyncio.run(run(PipelineConfig.build(replay=str(rec), speed=0)))
    assert replay == live, "the app's replay differs from its live run"
    return {"app_lines": live[0], "app_alerted_sessions": sorted(live[1])}


def run_soak(n: int, model_dir: str | None, work: Path) -> dict:
    log = work / "mixed.log"
    write_mixed_log(log, n)
    model = ["--model", model_dir] if model_dir else []
    started = time.perf_counter()
    result = headless(log, work, model, n)
    result.update(killed(log, work, model))
    result.update(in_app(log, work, model_dir))
    assert result["app_lines"] == n
    # The app keeps a bounded session list; every session it kept alerted as the headless run did.
    assert set(result["app_alerted_sessions"]) <= set(result["alerted_sessions"])
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--model", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run_soak(args.lines, args.model, Path(tmp))
    summary = {k: (len(v) if isinstance(v, list) else v) for k, v in result.items()}
    print(json.dumps(summary) if args.json else "\n".join(f"{k}: {v}" for k, v in summary.items()))


if __name__ == "__main__":
    main()
