"""Keep learning, measured: a run of ``logwatch score`` on a labelled log with and without ``--relearn``.

Each run is made as ``logwatch score LOG --relearn N`` makes it, in this process: the one entry
point (:func:`logwatch.core.learning.start.prepare`) builds the engine and its learning from the
run's settings, and the stream driver scores the log. Both runs start from the same model,
learned once from the log's first lines as ``--learn auto`` does (the first run learns it and
remembers it in a temporary state directory; the other reuses a copy), so the only difference
is learning again. Session-level precision, recall, F1 and FPR are computed from the scored
lines (a session alerts when any of its lines does), with the labels file ``SessionId,Label``
(``Normal``/``Anomaly``) that ``logwatch eval`` reads; without labels the alerted sessions are
counted. ``seconds`` is the run's wall time from ``prepare`` to the end of the log (imports and
interpreter start-up are left out of both runs).

    python benchmarks/eval_relearn.py ../shared/data/hdfs/loglead_2pct/HDFS_2pct_dev.log \\
        --labels ../shared/data/hdfs/loglead_2pct/HDFS_2pct_dev_block_labels.csv --relearn 50000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path


def score(log: str, state: Path, relearn: int) -> tuple[dict[str, bool], list[str], float]:
    """Each session's verdict, the notes (which model it started from, what learning did) and
    the wall time of one run of ``logwatch score LOG --relearn RELEARN`` with ``state`` as its
    XDG state directory (where learned models are remembered)."""
    from logwatch.core.known_normal import open_store
    from logwatch.core.learning.start import prepare
    from logwatch.core.settings import RunSettings
    from logwatch.core.stream import LineSource, run_stream
    from logwatch.core.threads import scoring_threads

    os.environ["XDG_STATE_HOME"] = str(state)
    settings = RunSettings(relearn=relearn)
    started = time.perf_counter()
    run = prepare(settings, log, known_normal=open_store(settings.known_normal),
                  threads=scoring_threads(keep_a_core=False))
    notes = [run.note] if run.note else []
    alerted: dict[str, bool] = {}
    with LineSource(log) as lines:
        for step in run_stream(run.engine, lines, learning=run.learning, relearning=run.relearning):
            for line in step.lines:
                alerted[line.session] = alerted.get(line.session, False) or line.alert
            status = step.learning
            if status is not None and not status.in_progress and status.text() and status.text() not in notes:
                notes.append(status.text())  # what a learning ended with (learned, failed, known)
    return alerted, notes, time.perf_counter() - started


def verdict(alerted: dict[str, bool], truth: dict[str, bool] | None) -> dict[str, object]:
    flagged = sum(alerted.values())
    if truth is None:
        return {"sessions": len(alerted), "alerted": flagged, "alerted_share": round(flagged / max(1, len(alerted)), 4)}
    tp = sum(1 for s, bad in truth.items() if bad and alerted.get(s))
    fp = sum(1 for s, bad in truth.items() if not bad and alerted.get(s))
    fn = sum(1 for s, bad in truth.items() if bad and not alerted.get(s))
    tn = sum(1 for s, bad in truth.items() if not bad and not alerted.get(s))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": round(precision, 3), "recall": round(recall, 3),
            "f1": round(f1, 3), "fpr": round(fp / (fp + tn), 4) if fp + tn else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log")
    parser.add_argument("--labels", default=None, help="SessionId,Label CSV (as logwatch eval reads)")
    parser.add_argument("--relearn", type=int, default=50_000, help="the --relearn measured against none")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from logwatch.core.eval.metrics import read_labels

    truth = read_labels(args.labels) if args.labels else None
    with tempfile.TemporaryDirectory() as tmp:
        first, again = Path(tmp) / "first", Path(tmp) / "again"
        plain, notes_plain, seconds_plain = score(args.log, first, 0)  # learns the log, remembers it
        shutil.copytree(first, again)
        relearned, notes_again, seconds_again = score(args.log, again, args.relearn)
    result = {"without": {**verdict(plain, truth), "seconds": round(seconds_plain, 1), "notes": notes_plain},
              f"relearn {args.relearn}": {**verdict(relearned, truth), "seconds": round(seconds_again, 1),
                                           "notes": notes_again}}
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
