"""What watching several logs costs: three files merged into one timeline vs the same lines in one file.

The lines are real (Loghub's OpenStack samples under ../shared/data, cycled to fill each file);
their timestamps are rewritten so the three files interleave line by line, the hardest case for
the merge (every line changes file). Side by side in one run, each in its own process:

(a) reading only: the merge (3 files → one timeline) vs one file of the same lines in merged
    order, lines/s and the peak RSS at two sizes (memory must not grow with the files);
(b) ``logwatch score`` (whole process, the bundled model, ``--learn off``) on the three files
    vs on the one file: the time the merge adds.

    python benchmarks/bench_merge.py                    # 3 x 100,000 lines
    python benchmarks/bench_merge.py --lines 20000 --json
"""

from __future__ import annotations

import argparse
import glob
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "openstack" / "logparser_random_samples" / "OpenStack_*.log"
START = datetime(2017, 5, 16)

# Peak memory from VmHWM: it belongs to the process image, while ru_maxrss would carry over the
# parent's peak through fork (the parent holds every generated line).
READ_ONLY = """
import sys, time
from logwatch.core.stream import LineSource
t = time.perf_counter()
n = 0
with LineSource(sys.argv[1:]) as source:
    while (batch := source.take(timeout=5.0)) is not None:
        n += len(batch)
hwm = next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM"))
print(n, time.perf_counter() - t, hwm / 1024)
"""


def real_lines() -> list[str]:
    files = sorted(glob.glob(str(REAL)))
    if not files:
        sys.exit(f"needs the real OpenStack samples at {REAL}")
    return [line for f in files for line in Path(f).read_text(encoding="utf-8", errors="replace").splitlines()]


def restamp(line: str, when: datetime) -> str:
    """The line with its ``date time`` fields (Loghub's 2nd and 3rd) set to ``when``."""
    parts = line.split(" ", 3)
    if len(parts) < 4:
        return line
    return f"{parts[0]} {when:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f" {parts[3]}"


def write_inputs(out: Path, per_file: int) -> tuple[list[Path], Path]:
    source = real_lines()
    files: list[list[str]] = [[], [], []]
    merged: list[str] = []
    for i in range(per_file * 3):
        line = restamp(source[i % len(source)], START + timedelta(milliseconds=i))
        files[i % 3].append(line)
        merged.append(line)
    paths = []
    for k, lines in enumerate(files):
        path = out / f"service{k}.log"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    one = out / "all.log"
    one.write_text("\n".join(merged) + "\n", encoding="utf-8")
    return paths, one


def read_only(paths: list[Path]) -> tuple[int, float, float]:
    out = subprocess.run([sys.executable, "-c", READ_ONLY, *map(str, paths)], capture_output=True, text=True,
                         check=True).stdout.split()
    return int(out[0]), float(out[1]), float(out[2])


def score(paths: list[Path]) -> tuple[float, int, float]:
    """Seconds, rows and peak RSS (MB) of ``logwatch score`` on ``paths``."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "  # a fresh image: its child's peak is its own
               "r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, check=True); "
               "print(time.perf_counter() - t, r.stdout.count(b'\\n'), "
               "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
    cmd = [sys.executable, "-c", wrapper, sys.executable, "-m", "logwatch.cli.main", "score", *map(str, paths),
           "--learn", "off", "--device", "cpu"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1]), float(out[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000, help="lines per file (default 100,000)")
    parser.add_argument("--no-score", action="store_true", help="only the reading part (a)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="score runs of each kind, alternated (merged, one file, merged, ...): the VM's speed drifts")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result: dict[str, object] = {"machine": platform.machine(), "python": platform.python_version(),
                                 "lines_per_file": args.lines}
    with tempfile.TemporaryDirectory() as tmp:
        small_dir, big_dir = Path(tmp, "small"), Path(tmp, "big")
        small_dir.mkdir()
        big_dir.mkdir()
        small, _ = write_inputs(small_dir, max(1000, args.lines // 10))
        paths, one = write_inputs(big_dir, args.lines)
        n3, t3, rss3 = read_only(paths)
        n1, t1, rss1 = read_only([one])
        _, _, rss_small = read_only(small)
        result["read"] = {"merged_lines_per_s": round(n3 / t3), "one_file_lines_per_s": round(n1 / t1),
                          "merged_rss_mb": round(rss3, 1), "one_file_rss_mb": round(rss1, 1),
                          "merged_rss_mb_at_a_tenth": round(rss_small, 1), "lines": n3}
        if not args.no_score:
            runs3, runs1 = [], []
            for _ in range(max(1, args.repeat)):
                runs3.append(score(paths))
                runs1.append(score([one]))
            s3, s1 = min(r[0] for r in runs3), min(r[0] for r in runs1)
            rows3, rows1 = runs3[0][1], runs1[0][1]
            result["score"] = {"merged_s": round(s3, 2), "one_file_s": round(s1, 2),
                               "added_percent": round(100 * (s3 - s1) / s1, 1), "rows": [rows3, rows1],
                               "merged_runs_s": [round(r[0], 1) for r in runs3],
                               "one_file_runs_s": [round(r[0], 1) for r in runs1],
                               "merged_rss_mb": round(max(r[2] for r in runs3), 1),
                               "one_file_rss_mb": round(max(r[2] for r in runs1), 1),
                               "lines_per_s": [round(rows3 / s3), round(rows1 / s1)]}
    if args.json:
        print(json.dumps(result))
        return
    read = result["read"]
    assert isinstance(read, dict)
    print(f"3 files x {args.lines:,} real lines (Loghub OpenStack, restamped to interleave), {platform.machine()}")
    print(f"  reading: merged {read['merged_lines_per_s']:,} lines/s, one file {read['one_file_lines_per_s']:,} lines/s")
    print(f"  peak RSS reading: merged {read['merged_rss_mb']} MB (at a tenth of the lines "
          f"{read['merged_rss_mb_at_a_tenth']} MB), one file {read['one_file_rss_mb']} MB")
    if "score" in result:
        sc = result["score"]
        assert isinstance(sc, dict)
        print(f"  logwatch score (best of each): merged {sc['merged_s']} s, one file {sc['one_file_s']} s "
              f"(+{sc['added_percent']}%), {sc['lines_per_s'][0]:,} vs {sc['lines_per_s'][1]:,} lines/s; "
              f"peak RSS {sc['merged_rss_mb']} vs {sc['one_file_rss_mb']} MB")
        print(f"  every run, alternated: merged {sc['merged_runs_s']} s, one file {sc['one_file_runs_s']} s")
    started = time.strftime("%Y-%m-%d %H:%M")
    print(f"  ({started})")


if __name__ == "__main__":
    main()
