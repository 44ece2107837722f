"""HDFS chronological experiment: train on early normal blocks, calibrate later, test later still.

Data: ../shared/data/hdfs/loglead_2pct/HDFS_2pct_dev.log (+ block labels), never copied here.
Blocks are ordered by their first line. Normal blocks: the earliest 70% train the tokenizer
and model, the next 15% calibrate (line threshold at --max-fpr of those blocks, and the
session-completeness check's threshold), and every block (normal or anomalous) that starts
after the calibration cut is the test set. Anomalous blocks before the cut are not used at all.

Reported (on the test set): the line rule alone, the session check alone, both OR-ed (what
`logwatch eval` applies when calibration.json holds a session check), the unseen-template and
count-vector kNN baselines, and flagging everything.

    python benchmarks/eval_hdfs.py                         # ~15 min on 2 CPU cores
    python benchmarks/eval_hdfs.py --epochs 1 --blocks 2000 --json    # a quicker, smaller run
"""

from __future__ import annotations

import argparse
import dataclasses
import csv
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

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
    test = [b for b in order[cut + 1:]]
    return train, cal, test


def run(args: argparse.Namespace) -> dict:
    from logwatch.core.calibrate import calibrate, session_losses
    from logwatch.core.engine import Engine
    from logwatch.core.evaluate import evaluate_files
    from logwatch.core.masking import mask_line
    from logwatch.core.session_check import SessionCheck
    from logwatch.core.train import TrainConfig, train_model
    from logwatch.core.types import LogLine

    started = time.perf_counter()
    blocks, labels = load_blocks(args.blocks)
    train, cal, test = split(blocks, labels)
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        config = TrainConfig(epochs=args.epochs, seed=0, device="cpu", vocab_size=4096, holdout=0.05)
        result = train_model([("hdfs", line) for b in train for line in blocks[b]], model, config)
        train_s = time.perf_counter() - started
        engine = Engine.load(model, device="cpu")
        engine.threshold = None
        cal_lines = [LogLine(n=i, text=t, source="hdfs", arrival=0.0)
                     for i, t in enumerate((t for b in cal for t in blocks[b]), 1)]
        calibration = calibrate(session_losses(engine.score_batch(cal_lines)), max_fpr=args.max_fpr)
        check = SessionCheck.fit({b: [mask_line(t) for t in blocks[b]] for b in train},
                                 {b: [mask_line(t) for t in blocks[b]] for b in cal}, max_fpr=args.max_fpr)
        calibration = dataclasses.replace(calibration, session_check=check.to_dict())
        calibration.save(model)
        test_log = Path(tmp) / "test.log"
        keep = set(test)
        with open(DATA / "HDFS_2pct_dev.log", encoding="utf-8", errors="replace") as f, test_log.open("w") as out:
            from logwatch.core.sessions import SessionKeyer

            keyer = SessionKeyer(None)
            for raw in f:
                if keyer.key(raw.rstrip("\n"), "hdfs") in keep:
                    out.write(raw)
        engine = Engine.load(model, device="cpu")
        report = evaluate_files(engine, [str(test_log)], {b: labels[b] for b in test}, baselines=True)
    report["split"] = {"train_blocks": len(train), "calibration_blocks": len(cal), "test_blocks": len(test),
                       "test_anomalous": sum(labels[b] for b in test), "epochs_run": result.epochs_run,
                       "train_seconds": round(train_s, 1), "total_seconds": round(time.perf_counter() - started, 1),
                       "max_fpr": args.max_fpr}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--blocks", type=int, default=None, help="use only the first N blocks (a quick run)")
    parser.add_argument("--max-fpr", type=float, default=0.01)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = run(args)
    if args.json:
        print(json.dumps(report))
        return
    print(json.dumps(report["split"]))
    rows = [("logwatch (line rule OR session check)", report)]
    for key in ("line_rule", "session_check", "flag_all"):
        if isinstance(report.get(key), dict):
            rows.append((key, report[key]))
    for name, sub in (report.get("baselines") or {}).items():
        rows.append((name, sub))
    print(f"{'detector':40} {'prec':>6} {'rec':>6} {'F1':>6} {'FPR':>6} {'AUROC':>6} {'AUPRC':>6}")
    for name, m in rows:
        print(f"{name:40} " + " ".join(f"{m.get(k, float('nan')) if m.get(k) is not None else float('nan'):6.3f}"
                                       for k in ("precision", "recall", "f1", "fpr", "auroc", "auprc")))


if __name__ == "__main__":
    main()
