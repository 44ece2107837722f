"""``logwatch eval``: the CLI side. The work is in :mod:`logwatch.core.evaluate`; this module
checks the input, turns every expected failure into one ``logwatch: …`` line (exit 2), and
renders the report as a table or as one JSON object.
"""

from __future__ import annotations

import contextlib
import math
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from logwatch.core.escape import printable
from logwatch.core.jsonl import dumps

from .common import load_engine, open_known_normal, usage_error

if TYPE_CHECKING:
    from logwatch.core.engine import Engine
    from logwatch.core.known_normal import KnownNormal
    from logwatch.core.learning.learn_window import WindowRule
    from logwatch.core.settings import RunSettings

#: Rows of the table: (report key, label). "" is the model's full rule (the top level).
_ROWS = (
    ("", "logwatch"),
    ("line_rule", "  line rule only"),
    ("session_check", "  session check only"),
    ("any_error_line", "any ERROR line"),
    ("unseen_template", "unseen template"),
    ("count_vector_knn", "count-vector kNN"),
    ("flag_all", "flag everything"),
)


@dataclass(frozen=True)
class EvalOptions:
    """What ``logwatch eval`` asks beyond a run's settings: the labels and how to judge."""

    labels: str
    """``--labels``: the Loghub-style CSV (SessionId,Label)."""
    as_json: bool = False
    threshold: float | None = None
    """``--threshold``: the line threshold instead of the calibrated one."""
    min_lines: int | None = None
    """``--min-lines``: the k-lines rule instead of the calibrated one."""
    baseline: bool = True
    feedback: tuple[int, ...] = ()
    feedback_scope: str = "line"
    signals: str = "all"
    known_margin: float | None = None


def run_eval(files: tuple[str, ...], settings: RunSettings, options: EvalOptions) -> None:
    """``logwatch eval``: the report of the model (learned first on the files' first lines with
    ``--learn``) on labelled FILES, as a table or JSON."""
    labels, threshold, known_margin, signals = options.labels, options.threshold, options.known_margin, options.signals
    from logwatch.core.eval.evaluate import evaluate_files, require_eval_extra
    from logwatch.core.eval.metrics import read_labels
    from logwatch.core.eval.traces import EvalError, check_files

    try:
        truth = read_labels(labels)
    except FileNotFoundError:
        raise usage_error(f"labels file {labels} does not exist") from None
    except IsADirectoryError:
        raise usage_error(f"labels file {labels} is a directory") from None
    except OSError as exc:
        raise usage_error(f"cannot read labels file {labels}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    if not truth:
        raise usage_error(f"labels file {labels} names no session")
    if threshold is not None and not math.isfinite(threshold):
        raise usage_error("--threshold must be a finite number")
    try:
        check_files(files)  # before loading the model: a typo should not cost a model load
        require_eval_extra()
        require_eval_extra()
    except EvalError as exc:
        raise usage_error(str(exc)) from None
    store = open_known_normal(settings.known_normal)
    from logwatch.core.alerts import DEFAULT_KNOWN_MARGIN, SIGNALS

    chosen = SIGNALS if signals.strip() == "all" else tuple(s.strip() for s in signals.split(",") if s.strip())
    if not chosen or set(chosen) - set(SIGNALS):
        raise usage_error(f"--signals: a comma-separated list of {', '.join(SIGNALS)}, or all")
    margin = DEFAULT_KNOWN_MARGIN if known_margin is None else known_margin
    if not (math.isfinite(margin) and margin >= 1.0):
        raise usage_error("--known-margin must be a number of at least 1")
    window_rule = _window_rule(settings.learn) if settings.learn != "off" else None
    engine = load_engine(settings.model_dir, settings.device, settings.session_regex, threshold=threshold,
                         min_lines=options.min_lines, known_normal=store, signals=chosen, known_margin=margin)
    learned_summary: dict[str, Any] | None = None
    if window_rule is not None and settings.session_regex is not None:
        raise usage_error("--session-regex does not apply with --learn: the model keys sessions by its own rule")
    if window_rule is not None:
        learned_summary = _learn_first_lines(engine, files, window_rule, store, settings.learn_seconds)
    try:
        report = evaluate_files(engine, files, truth, baselines=options.baseline, feedback=options.feedback,
                                feedback_scopes=(options.feedback_scope,))
    except EvalError as exc:
        raise usage_error(str(exc)) from None
    if learned_summary is not None:
        report["learned"] = learned_summary
    if options.as_json:
        sys.stdout.write(dumps(report) + "\n")
    else:
        render(report, Console(highlight=False))


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _window_rule(option: str) -> WindowRule:
    """``--learn auto`` or ``--learn N`` as a window rule; a usage error for anything else."""
    from logwatch.core.learning.learn_window import WindowRule
    from logwatch.core.settings import learn_lines

    if option.strip().lower() == "auto":
        return WindowRule()
    lines = learn_lines(option)
    if lines is None:
        raise usage_error(f"--learn must be auto or a number of lines between 200 and 1,000,000, not {option!r}")
    return WindowRule.exactly(lines)


def _learn_first_lines(engine: Engine, files: tuple[str, ...], rule: WindowRule, store: KnownNormal | None,
                       seconds: float | None) -> dict[str, Any]:
    """``--learn``: what ``logwatch score`` does on a log it does not know, forced
    (:func:`logwatch.core.learning.start.learn_first_lines`), and the evaluation then scores every
    line, those too, with the learned model. A learning that cannot be done is a usage error
    (the figures would silently be the base model's)."""
    from logwatch.core.learning.learn import LearnConfig, LearnError
    from logwatch.core.learning.start import learn_first_lines

    from .commands import read_all_lines
    from .progress import training_bar

    console = Console(stderr=True)
    window = 0

    def announce(lines: int) -> None:
        nonlocal window
        window = lines
        console.print(f"[bold]logwatch eval --learn[/]: learning the first {lines:,} lines")

    config = LearnConfig() if seconds is None else LearnConfig(max_seconds=seconds)
    try:
        with contextlib.closing(read_all_lines(files)) as lines, training_bar(console) as on_progress:
            learned = learn_first_lines(engine, lines, rule, config=config, known_normal=store, label="eval",
                                        on_window=announce, on_progress=on_progress)
    except LearnError as exc:
        raise usage_error(f"--learn: cannot learn from the first {window:,} lines: {exc}") from None
    return {"window_lines": window, **learned.summary}


def render(report: dict[str, Any], console: Console) -> None:
    """The human view: one row per detector, then the operating point, lead time and counts."""
    # Borderless and padded on one side so the detector names fit an 80-column terminal.
    table = Table(title="logwatch eval: session level", title_justify="left", box=box.SIMPLE_HEAD,
                  padding=(0, 1, 0, 0), pad_edge=False)
    for column in ("detector", "prec", "rec", "F1", "FPR", "AUROC", "AUPRC", "TP", "FP", "TN", "FN"):
        table.add_column(column, justify="left" if column == "detector" else "right", no_wrap=True)
    sources = {"": report, "line_rule": report.get("line_rule"), "session_check": report.get("session_check"),
               "flag_all": report.get("flag_all"), "any_error_line": report.get("any_error_line"),
               **(report.get("baselines") or {})}
    rows = [(label, sources.get(key)) for key, label in _ROWS]
    for i, run in enumerate(report.get("feedback") or [], start=1):
        rows.insert(i, (f"  {run['reviews']} reviewed", run))
    for label, row in rows:
        if not row:
            continue
        table.add_row(label, *(_fmt(row.get(c)) for c in ("precision", "recall", "f1", "fpr", "auroc", "auprc",
                                                              "tp", "fp", "tn", "fn")))
    console.print(table)
    console.print(f"sessions {report['sessions']} (anomalous {report['anomalous']}); "
                  f"rule: {escape(str(report['rule']))}")
    learned = report.get("learned")
    if learned:
        console.print(f"learned first: {learned.get('window_lines'):,} lines ({learned.get('usable_lines'):,} usable) "
                      f"in {learned.get('seconds')} s; every line then scored by the learned model", markup=False)
    if report.get("feedback"):
        scope = report["feedback"][0]["scope"]
        console.print("N reviewed: the same rule with an operator who marks the first N false alarms normal "
                      + ("as they fire (key m)" if scope == "line" else "once their session is over (key M)"))
    known = report.get("known_normal")
    if known and known.get("patterns"):
        console.print(f"{known['patterns']} pattern(s) marked normal did not alert ({escape(printable(str(known['path'])))})")
    if report.get("baselines_note"):
        console.print(f"[dim]{escape(report['baselines_note'])}[/]")
    lead = report.get("lead_time")
    if lead:
        if lead.get("count"):
            seconds = lead.get("median_seconds")
            console.print(f"lead time (true positives with a known first anomalous line: {lead['count']}): "
                          f"median {_fmt(lead['median_lines_before'])} lines"
                          + (f" / {seconds:.1f} s" if seconds is not None else "")
                          + f" before it; alerted at or before it: {lead['share_at_or_before']:.0%}")
        else:
            console.print("lead time: no true positive with a known first anomalous line")
    counts = report["counts"]
    console.print(f"[dim]{counts['lines_scored']:,} of {counts['lines_read']:,} lines scored in "
                  f"{counts['seconds']:.1f}s; labelled sessions absent from the files: "
                  f"{counts['labelled_sessions_not_in_files']}[/]")
