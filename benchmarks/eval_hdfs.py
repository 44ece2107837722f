"""HDFS chronological experiment: train on early normal blocks, calibrate later, test later still.

Data: ../shared/data/hdfs/loglead_2pct/HDFS_2pct_dev.log (+ block labels), never copied here.
Blocks are ordered by their first line. Normal blocks: the earliest 70% train the tokenizer
and model, the next 15% calibrate (line threshold at --max-fpr of those blocks, and the
session-completeness check's threshold), and every block (normal or anomalous) that starts
after the calibration cut is the test set. Anomalous blocks before the cut are not used in the
strict test set; a second report ("every anomalous block") adds them to it, since no anomalous
block is ever trained or calibrated on: same normal test blocks (same FPR), 232 anomalies
instead of 20. ``--feedback N`` (repeatable) adds the rule with an operator who marks the first N
false alarms normal as they fire (key m; docs/EVALUATION.md §1).

Reported (on the test set): the line rule alone, the session check alone, both OR-ed (what
`logwatch eval` applies when calibration.json holds a session check), the unseen-template and
count-vector kNN and PCA (Xu et al.) baselines, and flagging everything.

    python benchmarks/eval_hdfs.py                         # ~15 min on 2 CPU cores
    python benchmarks/eval_hdfs.py --epochs 1 --blocks 2000 --json    # a quicker, smaller run
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from experiment import print_table

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hdfs" / "loglead_2pct"


def load_blocks(limit: int | None) -> tuple[dict[str, list[str]], dict[str, bool]]:
    from logwatch.core.sessions import SessionKeyer

    keyer = SessionKeyer(None)
    with open(DATA / "HDFS_2pct_dev_block_labels.csv", newline="") as f:
        rows = list(csv.reader(f))
    header = [h.lower() for h in rows[0]]
    bid, lab = header.index("blockid") if "blockid" in header else 0, header.index("label") if "label" in header else 1
    labels = {r[bid]: r[lab].strip().lower() in ("anomaly", "1", "true", "abnormal") for r in rows[1:] if r}
    blocks: dict[str, list[str]] = defaultdict(list)
    with open(DATA / "HDFS_2pct_dev.log", encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\n")
            key = keyer.key(line, "hdfs")
            if key in labels:
                if key not in blocks and limit is not None and len(blocks) >= limit:
                    continue
                blocks[key].append(line)
    return dict(blocks), labels


def split(blocks: dict[str, list[str]], labels: dict[str, bool]) -> tuple[list[str], list[str], list[str]]:
    order = list(blocks)  # dict order = order of first appearance
    normal = [b for b in order if not labels[b]]
    n_train, n_cal = int(0.70 * len(normal)), int(0.15 * len(normal))
    train, cal = normal[:n_train], normal[n_train:n_train + n_cal]
    cut = order.index(cal[-1]) if cal else 0
    test = list(order[cut + 1:])
    return train, cal, test


def early_anomalies(blocks: dict[str, list[str]], labels: dict[str, bool], test: list[str]) -> list[str]:
    """Anomalous blocks that start before the test period (never trained or calibrated on)."""
    later = set(test)
    return [b for b in blocks if labels[b] and b not in later]


def run(args: argparse.Namespace) -> dict:
    from experiment import evaluate_split, train_and_calibrate

    started = time.perf_counter()
    blocks, labels = load_blocks(args.blocks)
    train, cal, test = split(blocks, labels)
    every = test + early_anomalies(blocks, labels, test)
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        trained = train_and_calibrate(model, {b: blocks[b] for b in train}, {b: blocks[b] for b in cal},
                                      max_fpr=args.max_fpr, epochs=args.epochs, source="hdfs")
        # The test log keeps the original line order (blocks interleave, as in production).
        keep = set(every)
        test_log = Path(tmp) / "test.log"
        with open(DATA / "HDFS_2pct_dev.log", encoding="utf-8", errors="replace") as f, test_log.open("w") as out:
            from logwatch.core.sessions import SessionKeyer

            keyer = SessionKeyer(None)
            for raw in f:
                if keyer.key(raw.rstrip("\n"), "hdfs") in keep:
                    out.write(raw)
        train_s, cal_s = {b: blocks[b] for b in train}, {b: blocks[b] for b in cal}
        report = evaluate_split(model, test_log, {b: labels[b] for b in test}, train_s, cal_s,
                                {b: blocks[b] for b in test}, max_fpr=args.max_fpr, feedback=args.feedback)
        if getattr(args, "rules", False):
            from experiment import rule_table

            report["rules"] = rule_table(model, test_log, {b: labels[b] for b in test})
        report["live_check"] = [live_check(model, test_log, {b: labels[b] for b in test}, idle)
                                for idle in getattr(args, "live_idle", None) or ()]
        report["every_anomalous_block"] = evaluate_split(
            model, test_log, {b: labels[b] for b in every}, train_s, cal_s, {b: blocks[b] for b in every},
            max_fpr=args.max_fpr, feedback=args.feedback)
        if getattr(args, "dump", None):
            dump_scores(Path(args.dump), model, {b: blocks[b] for b in cal}, test_log, labels, Path(tmp))
    report["split"] = {"train_blocks": len(train), "calibration_blocks": len(cal), "test_blocks": len(test),
                       "test_anomalous": sum(labels[b] for b in test), "early_anomalous": len(every) - len(test),
                       **trained,
                       "total_seconds": round(time.perf_counter() - started, 1), "max_fpr": args.max_fpr}
    return report


def live_check(model: Path, test_log: Path, labels: dict[str, bool], idle: float) -> dict:
    """The session check as the live monitor applies it (``--session-ends``): blocks are judged when
    they have been idle for ``idle`` seconds of *log* time (the lines' own timestamps stand in for
    the wall clock), or when the log ends. A block that resumes after going idle is judged again;
    it counts as flagged if any of its verdicts alerted."""
    from logwatch.core.engine import Engine
    from logwatch.core.eval.metrics import decision_metrics
    from logwatch.core.ingest import read_lines
    from logwatch.core.parse import parse_line, timestamp_seconds
    from logwatch.core.stream import MONITOR_BATCH_LINES
    from logwatch.core.types import LogLine

    engine = Engine.load(model, device="cpu", session_ends=True, idle_seconds=idle)
    batch: list[LogLine] = []
    clock = 0.0

    def flush() -> None:
        engine.score_batch(batch)
        engine.evict_idle(now=clock)
        batch.clear()

    for line in read_lines(str(test_log)):
        clock = timestamp_seconds(parse_line(line.text).ts) or clock
        batch.append(LogLine(n=line.n, text=line.text, source=line.source, arrival=clock))
        if len(batch) >= MONITOR_BATCH_LINES:
            flush()
    flush()
    engine.close_all()
    verdicts = [e for e in engine.take_ended() if e.session in labels]
    flags = dict.fromkeys(labels, False)
    judged: dict[str, int] = {}
    for end in verdicts:
        flags[end.session] = flags[end.session] or end.alert
        judged[end.session] = judged.get(end.session, 0) + 1
    return decision_metrics(flags, labels, idle_seconds=idle,
                            blocks_judged_more_than_once=sum(n > 1 for n in judged.values()))


def dump_scores(out: Path, model: Path, cal: dict[str, list[str]], test_log: Path, labels: dict[str, bool],
                tmp: Path) -> None:
    """Per-block line losses and session-check scores of calibration and test blocks (for analysis)."""
    from experiment import write_log

    from logwatch.core.engine import Engine
    from logwatch.core.eval.traces import score_sessions
    from logwatch.core.session_check import SessionCheck

    engine = Engine.load(model, device="cpu")
    check = SessionCheck.from_dict(engine.calibration.session_check)
    rows = {}
    for part, log in (("cal", write_log(tmp / "cal.log", cal)), ("test", test_log)):
        traces = score_sessions(engine, [str(log)]).sessions
        checks = check.score_many({k: t.templates for k, t in traces.items()})
        for key, trace in traces.items():
            rows[key] = {"part": part, "anomaly": labels[key], "losses": [round(x, 4) for x in trace.losses],
                         "check": checks[key]}
    out.write_text(json.dumps({"line_threshold": engine.threshold, "check_threshold": check.threshold,
                               "blocks": rows}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--blocks", type=int, default=None, help="use only the first N blocks (a quick run)")
    parser.add_argument("--max-fpr", type=float, default=0.01)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--dump", metavar="FILE", help="also write per-block scores of calibration and test blocks")
    parser.add_argument("--live-idle", type=float, action="append", default=[], metavar="S",
                        help="also judge blocks as the live monitor would, after S seconds of log time idle (repeatable)")
    parser.add_argument("--feedback", type=int, action="append", default=[], metavar="N",
                        help="also report the rule after an operator marks the first N false alarms (repeatable)")
    parser.add_argument("--rules", action="store_true",
                        help="also report every alert signal alone and combined (benchmarks/experiment.py RULES)")
    args = parser.parse_args()
    report = run(args)
    if args.json:
        print(json.dumps(report))
        return
    print(json.dumps(report["split"]))
    print_table("HDFS chronological split, test blocks", report)
    if report.get("rules"):
        from experiment import print_rules

        print_rules("alert rules, same model and test blocks", report["rules"])
    for live in report.get("live_check") or []:
        print(f"session check judged live, idle {live['idle_seconds']:g} s: P {live['precision']:.3f} "
              f"R {live['recall']:.3f} F1 {live['f1']:.3f} FPR {live['fpr']:.4f} "
              f"({live['blocks_judged_more_than_once']} blocks judged more than once)")
    print_table("the same normal test blocks with every anomalous block", report["every_anomalous_block"])


if __name__ == "__main__":
    main()
