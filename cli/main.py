"""The ``logwatch`` command: the TUI by default, and headless score/train/calibrate/eval.

Start-up matters (``logwatch --help`` must be instant), so nothing heavy is imported at
module level: torch only loads inside the commands that score or train, textual only in
the TUI command. Every expected failure becomes one ``logwatch: …`` line on stderr and a
non-zero exit (2 for usage errors), never a traceback.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import click

from logwatch.core import threads as _threads  # noqa: F401 - starts busy_cores()'s measuring interval now
from logwatch.core.escape import MESSAGE_CHARS, printable
from logwatch.core.settings import DEVICES, LEARN_SECONDS, PRECISIONS

from . import commands
from .common import LogwatchError, run_settings, usage_error

DEVICE_CHOICE = click.Choice(DEVICES)

#: Allocations between two collections of the youngest generation (Python's default: 700).
GC_YOUNG_THRESHOLD = 50_000


class Finite(click.FloatRange):
    """A FloatRange that also refuses nan and inf (a plain range lets nan through every bound)."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        import math

        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class DefaultGroup(click.Group):
    """A group that runs ``watch`` when the first argument is not a sub-command.

    So ``logwatch nova.log``, ``logwatch --replay x.lwrec`` and a bare ``logwatch`` (stdin)
    open the TUI, while ``logwatch score …`` runs a sub-command.
    """

    default_command = "watch"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        with _escaped_errors():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _escaped_errors():  # a sub-command's own parsing (its options' values) happens in here
            return super().invoke(ctx)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The process's entry point (tests call :meth:`main`): run, then leave quickly."""
        try:
            return self.main(*args, **kwargs)
        except SystemExit as exc:
            leave(exc.code)


@contextlib.contextmanager
def _escaped_errors() -> Iterator[None]:
    """Click's own errors quote what was typed (``Got unexpected extra argument (…)``), which can
    hold escape sequences: such a message is escaped like every ``logwatch:`` line (ours escape
    when shown; a help page shown for missing arguments is our own text)."""
    try:
        yield
    except (LogwatchError, click.exceptions.NoArgsIsHelpError):
        raise
    except click.ClickException as exc:
        message = exc.format_message()
        escaped = printable(message, MESSAGE_CHARS)
        if escaped == message:
            raise
        if isinstance(exc, click.UsageError):  # exit 2, with the usage line and the --help hint
            raise click.UsageError(escaped, exc.ctx) from None
        raise click.ClickException(escaped) from None


def leave(code: object) -> None:
    """End the process once the command is done, skipping the interpreter's teardown.

    Tearing down the modules torch brings takes 0.4-0.5 s after every command that scored (on
    the 2-core test machine; 0.01 s without torch), however little it scored. Exit handlers
    still run (whatever the program or a library registered, temporary directories included)
    and the standard streams are flushed first. With a non-daemon thread still running, an
    exit code that is a message, or a stream that cannot be flushed, it is the usual exit.
    """
    import atexit
    import os
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        # The command is over (its recording flushed and closed): a SIGTERM now has nothing left
        # to stop, and its handler's SystemExit would only break off an exit handler midway (a
        # temporary directory left behind) and print "Exception ignored in atexit callback".
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    status = 0 if code is None else code if isinstance(code, int) else 1
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if others or not isinstance(code, (int, type(None))):
        raise SystemExit(code)  # the usual exit: it joins the threads, prints a message code
    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        raise SystemExit(code) from None
    os._exit(status)


model_option = click.option(
    "--model", "model_dir", metavar="DIR", default=None,
    help="Model directory (spec.json, tokenizer.json, model.safetensors, calibration.json). "
    "Default: the bundled model trained on the nova sample logs.")
device_option = click.option(
    "--device", type=DEVICE_CHOICE, default="auto", show_default=True,
    help="Where the model runs: auto picks CUDA, then Apple MPS, then the CPU.")
precision_option = click.option(
    "--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
    help="Numbers of the scoring forward: auto = int8 on the CPU (fp32 where torch lacks the int8 "
    "kernels, or where a learned model's held-out lines strayed over 0.1 nats in int8), bf16 on a GPU; "
    "int8 = dynamic int8 projections, fp32 activations, bf16 cached keys and values where the CPU has "
    "bf16 (losses within 0.1 nats of fp32 on the logs measured, 1.7x faster on real logs); fp32 = the exact reference.")
known_normal_option = click.option(
    "--known-normal", metavar="FILE", default=None,
    help="Lines marked normal (key m in the monitor) never alert. Default: "
    "$XDG_STATE_HOME/logwatch/known-normal.json (~/.local/state/...); 'none' ignores the marks.")
learn_option = click.option("--learn", default="auto", show_default=True, metavar="auto|fresh|off|N",
                            help="Learn the log being watched: auto learns it when the model does not know it (over "
                            "5% of the first 1,000 lines surprising), from its first lines (5,000, more until they cover two "
                            "hours of the log's time, at most 50,000); fresh does so even if "
                            "a model was remembered for it; N learns from the first N lines whatever the model; off "
                            "never learns. Learned models are kept (see `logwatch models`).")
learn_seconds_option = click.option(
    "--learn-seconds", type=float, default=LEARN_SECONDS, show_default=True, metavar="S",
    help="Wall time learning takes at most: a slower machine trains fewer steps in it, more seconds learn the "
    "log a little better.")


relearn_option = click.option(
    "--relearn", type=int, default=50_000, show_default=True, metavar="N",
    help="Keep learning: once a model learned from this log is in use, learn again every N lines it scored, in the "
    "background, from the recent lines of sessions that did not alert; 0 only when asked (key L in the monitor).")
name_option = click.option("--name", metavar="NAME", default=None,
                           help="Remember the learned model under this name (default: the log's file name).")
session_option = click.option(
    "--session-regex", metavar="RE", default=None,
    help="Regex with one capture group giving a line's session key. Default: the rule the model was "
    "trained with (built-in: [instance: UUID], blk_ID, req-UUID).")


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="logwatch", prog_name="logwatch")
def main() -> None:
    """Watch logs and flag surprising lines with a small language model.

    \b
    logwatch nova.log                 monitor a file (follows it as it grows)
    tail -f nova.log | logwatch       monitor a pipe (the keyboard still works)
    logwatch api.log compute.log      several logs as one timeline ('/var/log/nova/*.log' too)
    logwatch --replay incident.lwrec  replay a recorded session
    logwatch score nova.log           headless: one JSON object per line
    logwatch train normal.log --out DIR    train tokenizer + model on normal logs
    logwatch eval --model DIR --labels labels.csv test.log
    logwatch marks                    list the lines marked normal (key m in the monitor)
    logwatch models                   list the models learned from logs (--learn)

    Run `logwatch COMMAND --help` for each command's options.
    """
    import gc

    # Scoring makes a few short-lived containers per line and keeps a large heap (the memo,
    # windows, parked caches) that the default young-generation threshold (700 allocations)
    # has the collector walk again and again: on 54,000 real Loghub nova lines the Python side
    # of `score` took 3.3-3.6 s instead of 3.9-4.7 s with 50,000, at the same peak memory.
    # logwatch's own objects form no cycles that need collecting promptly.
    gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)


@main.command()
@click.argument("paths", nargs=-1, metavar="[PATH...|-]")
@click.option("--replay", metavar="REC", default=None, help="Replay a recording (.lwrec, gzip too) instead of reading logs.")
@click.option("--record", metavar="REC", default=None, help="Record everything seen (lines, sessions, losses) to this file.")
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="Replay speed factor; 0 = as fast as possible.")
@click.option("--theme", default="logwatch-dark", show_default=True,
              help="Colour theme: logwatch-dark, logwatch-light, logwatch-contrast.")
@model_option
@device_option
@precision_option
@session_option
@known_normal_option
@click.option("--session-ends", is_flag=True,
              help="Also judge each session when it ends (idle 15 min, or the input is over) with the model's session "
              "check (train --session-check): a session that stops early alerts at its last line. Sessions with long "
              "pauses are judged in parts and mostly flagged (docs/EVALUATION.md §1).")
@learn_option
@learn_seconds_option
@relearn_option
@name_option
def watch(paths: tuple[str, ...], **options: Any) -> None:
    """Open the live monitor on PATH, on standard input (-), or on a recording (--replay).

    Several PATHs (or a quoted glob such as '/var/log/nova/*.log', matched again every second
    for logs that appear later) are watched as one timeline: what the files hold is merged by
    the lines' timestamps, new lines come in as they arrive, and a session (an instance, a
    request) gathers its lines from every file. A file that cannot be read is named in the
    status bar and the others are watched.
    """
    commands.run_watch(paths, run_settings(options))


@main.command()
@click.argument("paths", nargs=-1, metavar="[PATH...|-]")
@model_option
@device_option
@precision_option
@session_option
@click.option("--follow", "-f", is_flag=True, help="Keep reading as the file grows (survives rotation and truncation).")
@click.option("--replay", metavar="REC", default=None, help="Print the scored lines of a recording instead of scoring logs.")
@click.option("--record", metavar="REC", default=None, help="Also write a recording (.lwrec) of the scored lines.")
@click.option("--fail-on-alert", is_flag=True, help="Exit with status 1 when any alert fired.")
@click.option("--tokens", is_flag=True, help="Add per-token losses to each JSON object (key \"tokens\").")
@known_normal_option
@click.option("--session-ends", is_flag=True,
              help="Also judge each session when it ends (idle, or the input is over) with the model's session check "
              "(train --session-check): one {\"session_end\", n, lines, check, threshold, alert} object each. "
              "Not written to --record. Sessions with long pauses are judged in parts and mostly flagged (HDFS: "
              "56% of normal blocks at 900 s idle, docs/EVALUATION.md); best on inputs that end.")
@click.option("--idle-seconds", type=float, default=900.0, show_default=True,
              help="A session with no line for this long has ended.")
@learn_option
@learn_seconds_option
@relearn_option
@name_option
@click.option("--alerts", "alerts_only", is_flag=True,
              help="Print only alert events, one JSON object each: a group of alerts opened, came back after a quiet "
              "spell, or its rate jumped ({\"alert\": open|back|rate, group, pattern, count, sessions, first_n, "
              "first_ts, n, ts, why}): what an alert router or a pager consumes.")
def score(paths: tuple[str, ...], **options: Any) -> None:
    """Score PATH (or standard input) headless: one JSON object per line on stdout.

    Several PATHs (or a quoted glob) are scored as one timeline, merged by the lines'
    timestamps; every input is checked first, and one that cannot be read stops the command
    (exit 2) before any output, since rows missing a whole file would look complete.

    Each object has n, ts, source, session, text, loss, alert and why (the reasons it alerted);
    --alerts prints only alert events instead. Exit status 0, or 1 with --fail-on-alert when
    any alert fired (a session-end alert too, with --session-ends).
    """
    commands.run_score(paths, run_settings(options))


@main.command()
@click.argument("files", nargs=-1, required=True, metavar="FILES...")
@click.option("--out", "out_dir", required=True, metavar="DIR", help="Directory to write the model into (created).")
@click.option("--epochs", type=click.IntRange(1, 1000), default=8, show_default=True,
              help="Most passes over the data; early stopping may end sooner.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed: the same seed and data give the same model.")
@click.option("--vocab-size", type=click.IntRange(300, 65536), default=4096, show_default=True,
              help="Largest tokenizer vocabulary.")
@click.option("--batch-size", type=click.IntRange(1, 4096), default=32, show_default=True)
@click.option("--lr", type=Finite(0.0, 1.0, min_open=True), default=1e-3, show_default=True, help="Peak learning rate.")
@click.option("--holdout", type=Finite(0.0, 0.5), default=0.1, show_default=True,
              help="Share of sessions kept out of training for early stopping and calibration.")
@click.option("--max-fpr", type=Finite(0.0, 0.5), default=0.01, show_default=True,
              help="Calibrate the alert threshold to flag at most this share of held-out normal sessions.")
@click.option("--min-lines", type=click.IntRange(1, 100), default=1, show_default=True,
              help="A session alerts once this many of its lines are over the threshold.")
@click.option("--half", is_flag=True, help="Store weights as fp16 (half the size).")
@click.option("--session-check", is_flag=True,
              help="Also fit the session-completeness check (is a finished session's mix of lines a known one?), "
              "calibrated on the held-out sessions at --max-fpr; `logwatch eval` then flags sessions by it too.")
@click.option("--from", "base", metavar="DIR", default=None,
              help="Adapt an existing model (DIR, or 'default' for the bundled one) instead of training from nothing: "
              "the way a watched log is learned (the log's own tokenizer, the model's embeddings carried over, rare "
              "errors left out, about a minute on 2 cores). --epochs, --vocab-size, --batch-size, --lr, --holdout, "
              "--min-lines, --half and --session-check apply to training from nothing only.")
@device_option
@session_option
def train(files: tuple[str, ...], out_dir: str, base: str | None, **options: Any) -> None:
    """Train a tokenizer and model on FILES of normal logs; writes DIR with a calibration."""
    if base is not None:
        commands.run_adapt(files=files, out_dir=out_dir, base=base, seed=options["seed"], max_fpr=options["max_fpr"],
                           session_regex=options["session_regex"])
        return
    commands.run_train(files=files, out_dir=out_dir, **options)


@main.command()
@click.argument("files", nargs=-1, required=True, metavar="FILES...")
@model_option
@device_option
@session_option
@click.option("--max-fpr", type=Finite(0.0, 0.5), default=0.01, show_default=True,
              help="Flag at most this share of the normal sessions in FILES.")
@click.option("--min-lines", type=click.IntRange(1, 100), default=1, show_default=True,
              help="A session alerts once this many of its lines are over the threshold.")
@click.option("--method", type=click.Choice(["max-fpr", "mean+3sigma"]), default="max-fpr", show_default=True,
              help="max-fpr: quantile of normal sessions; mean+3sigma: the original study's rule.")
@click.option("--dry-run", is_flag=True, help="Print the calibration without writing calibration.json.")
def calibrate(files: tuple[str, ...], model_dir: str | None, **options: Any) -> None:
    """Set the model's alert threshold from FILES of normal logs (writes calibration.json)."""
    commands.run_calibrate(files=files, model_dir=model_dir, **options)


@main.command(name="eval")
@click.argument("files", nargs=-1, required=True, metavar="FILES...")
@click.option("--labels", required=True, metavar="LABELS.csv", help="Loghub-style CSV: SessionId,Label (Normal|Anomaly).")
@model_option
@device_option
@session_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--threshold", type=Finite(0.0), default=None, help="Override the calibrated line threshold.")
@click.option("--min-lines", type=click.IntRange(1, 100), default=None, help="Override the calibrated k-lines rule.")
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="Also report the unseen-template baseline and the flag-everything reference.")
@known_normal_option
@click.option("--feedback", "feedback", type=click.IntRange(0, 100_000), multiple=True, metavar="N",
              help="Also report the metrics with an operator who marks the first N false alarms normal "
              "(keys m / M) as they happen; repeatable (--feedback 5 --feedback 20).")
@click.option("--feedback-scope", type=click.Choice(["line", "session"]), default="line", show_default=True,
              help="line: each review marks the line that alerted, when it alerts (key m); session: marks every "
              "line of the session over the threshold, once the session is over (key M).")
@click.option("--signals", default="all", show_default=True, metavar="LIST",
              help="Which alert signals decide: all, or a comma-separated list of surprise, severity, novelty, session.")
@click.option("--known-margin", type=Finite(1.0, 100.0), default=None, metavar="X",
              help="A line of a known pattern surprises only above X times the threshold (default: the product's).")
@click.option("--learn", default=None, metavar="auto|N",
              help="First adapt the model to the first lines of FILES, as `logwatch score` does on a log it does "
              "not know (errors left out, threshold set on a held-out part), then evaluate every line with the "
              "learned model: the learning path measured on labelled logs. auto: the window `score` would "
              "learn from (5,000 lines, more until they cover two hours of the log, at most 50,000); N: the "
              "first N lines.")
@learn_seconds_option
def eval_(files: tuple[str, ...], labels: str, learn: str | None, as_json: bool, baseline: bool,
          threshold: float | None, min_lines: int | None, feedback: tuple[int, ...], feedback_scope: str,
          signals: str, known_margin: float | None, **options: Any) -> None:
    """Session-level precision, recall, F1, FPR, AUROC and AUPRC on labelled FILES."""
    from .evaluate import EvalOptions, run_eval

    if learn is not None and learn.strip().lower() != "auto" and not (learn.strip().isascii() and learn.strip().isdigit()):
        raise usage_error(f"--learn must be auto or a number of lines between 200 and 1,000,000, not {learn!r}")
    settings = run_settings({**options, "learn": "off" if learn is None else learn})
    run_eval(files, settings, EvalOptions(labels=labels, as_json=as_json, threshold=threshold, min_lines=min_lines,
                                          baseline=baseline, feedback=feedback, feedback_scope=feedback_scope,
                                          signals=signals, known_margin=known_margin))


@main.command()
@click.option("--remove", multiple=True, metavar="NAME", help="Remove the learned model NAME; repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per model instead of a table.")
def models(remove: tuple[str, ...], as_json: bool) -> None:
    """List the models learned from logs (kept under $XDG_STATE_HOME/logwatch/models), or remove some."""
    from .learning import run_models

    run_models(remove=remove, as_json=as_json)


@main.command()
@known_normal_option
@click.option("--remove", type=int, multiple=True, metavar="N", help="Remove mark N (its number in the list); repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per mark instead of a table.")
def marks(known_normal: str | None, remove: tuple[int, ...], as_json: bool) -> None:
    """List the lines marked normal (keys m / M in the monitor), or remove some of them."""
    commands.run_marks(known_normal=known_normal, remove=remove, as_json=as_json)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
