"""The engine: parse → session key → mask → tokenize → score → the alert decision.

One object that the headless commands and the TUI's pipeline thread both drive. It is not
thread-safe by design: exactly one thread owns it (the stream driver's). Its model can be
swapped between batches (:meth:`Engine.use_model`, when the log has been learned).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .alerts import DEFAULT_KNOWN_MARGIN, SIGNALS, AlertRule, order_reason, session_reason
from .calibrate import Calibration
from .known_normal import KnownNormal
from .masking import MASK_VERSION, masked_line
from .parse import parse_line
from .session_check import SessionCheck, SessionCheckError
from .sessions import EntryKeys, SessionInfo, SessionKeyer, SessionRuleError, SessionTable, source_label
from .spec import ModelDirError
from .types import LogLine, ModelChange, ScoredLine, SessionEnd

if TYPE_CHECKING:
    from .model import LoadedModel
    from .scorer import Scorer
    from .settings import RunSettings
    from .tokenizer import LogTokenizer


class EngineError(Exception):
    """The engine cannot start; the message is one line for the user."""


class Engine:
    """Scores lines in batches and applies the calibrated alert rule per session."""

    def __init__(self, *, loaded: LoadedModel | None = None, device: str = "auto", session_regex: str | None = None,
                 threshold: float | None = None, min_lines: int | None = None, signals: Sequence[str] = SIGNALS,
                 known_margin: float = DEFAULT_KNOWN_MARGIN,
                 idle_seconds: float = 900.0, max_sessions: int = 20_000, cache_slots: int | None = None,
                 max_batch: int | None = None, memo_entries: int = 200_000, park_bytes: int | None = None,
                 precision: str = "auto",
                 threads: int | None = None, known_normal: KnownNormal | None = None,
                 session_ends: bool = False) -> None:
        self.loaded: LoadedModel | None = None
        self.known_normal = known_normal
        """Patterns the operator marked normal: scored as usual, but they never count toward an alert."""
        rule = session_regex
        if rule is None and loaded is not None:
            rule = loaded.spec.session_rule
        try:
            self.keyer = SessionKeyer(rule)
        except SessionRuleError as exc:
            raise EngineError(str(exc)) from None
        # The stream's lines in order: a multi-line entry's body joins its first line's session.
        # Lines previewed while a model is learned are the same lines scored later: their own pass.
        self._entries = EntryKeys(self.keyer)
        self._preview_entries = EntryKeys(self.keyer)
        self.sessions = SessionTable(idle_seconds=idle_seconds, max_sessions=max_sessions)
        self.scorer: Scorer | None = None
        self.tokenizer: LogTokenizer | None = None
        self.device = "none"
        self.model_name = "no model"
        self.calibration: Calibration | None = None
        self._options: dict[str, Any] = {"device": device, "precision": precision, "threads": threads,
                                         "max_batch": max_batch, "cache_slots": cache_slots,
                                         "memo_entries": memo_entries, "park_bytes": park_bytes}
        self._overrides = (threshold, min_lines, tuple(signals), known_margin)
        self.rule = AlertRule.off()
        """The alert decision (:mod:`.alerts`): signals, threshold, the model's normal patterns."""
        self._change: ModelChange | None = None
        if loaded is not None:
            self.use_model(loaded)
        else:
            self.rule = AlertRule(threshold, min_lines or 1, frozenset(signals), known_margin=known_margin)
        self.lines_scored = 0
        self.non_finite_lines = 0
        """Lines whose loss came out NaN or infinite (broken weights); they get no loss."""
        self._told: set[str] = set()
        self.session_check: SessionCheck | None = None
        """When set, every session that ends (idle, or :meth:`close_all`) gets a :class:`SessionEnd`."""
        self.judged_by: SessionCheck | None = None
        """The session check that judges this engine's sessions when they end: here (with
        :attr:`session_check`), or by evaluation after the run (:meth:`judge_sessions_with`). A known
        line that surprises only by its place in a session is left to it (:meth:`AlertRule.order_surprise`)."""
        self._ended: list[SessionEnd] = []
        if session_ends:
            self.enable_session_ends()

    def use_model(self, loaded: LoadedModel, learned_from: int | None = None) -> None:
        """Score with this model from the next batch on (its calibration sets the alert rule);
        ``learned_from``: it was learned from that many lines of this stream, which the first
        line it scores is told (:attr:`ScoredLine.model`, with the threshold now applied).

        The sessions' windows are dropped (they hold the old tokenizer's ids): the caller warms
        the new model with recent lines (:meth:`warm`) or starts over (:meth:`reset`).
        """
        if loaded.spec.mask_version != MASK_VERSION:
            raise EngineError(
                f"model {loaded.directory} was trained with masking v{loaded.spec.mask_version}, "
                f"this logwatch masks with v{MASK_VERSION}: retrain it with `logwatch train`"
            )
        from .gpt import LeanGPT
        from .model import INT8_CHECK, pick_device, pick_dtype, set_threads, uses_int8
        from .scorer import Scorer

        options = self._options
        set_threads(options["threads"])
        try:
            torch_device = pick_device(options["device"])
            dtype = pick_dtype(torch_device, options["precision"])
        except ModelDirError as exc:
            raise EngineError(str(exc)) from None
        checked = loaded.calibration.details.get(INT8_CHECK) if loaded.calibration is not None else None
        int8 = uses_int8(torch_device, options["precision"], checked)
        gpt = LeanGPT(loaded.spec, loaded.weights, torch_device, dtype, int8=int8)
        if self.scorer is not None:
            for session in list(self.scorer.windows):
                self.scorer.drop(session)
        sizes = {name: options[name] for name in ("max_batch", "cache_slots", "park_bytes") if options[name] is not None}
        self.scorer = Scorer(gpt, bos_id=loaded.tokenizer.bos_id, cont_id=loaded.tokenizer.cont_id,
                             memo_entries=options["memo_entries"], **sizes)  # unset: the scorer's defaults
        self.loaded = loaded
        self.tokenizer = loaded.tokenizer
        self.device = torch_device.type
        self.model_name = loaded.name
        self.calibration = loaded.calibration
        threshold, min_lines, signals, margin = self._overrides
        if threshold is None and self.calibration is not None:
            threshold = self.calibration.line_threshold
        self.rule = AlertRule(threshold, min_lines or (self.calibration.min_lines if self.calibration else 1),
                              frozenset(signals), loaded.patterns, margin, normal_pairs=loaded.pattern_pairs,
                              token_threshold=self.calibration.token_threshold if self.calibration else None)
        self._change = None if learned_from is None else ModelChange(loaded.name, self.rule.threshold, learned_from)

    def share_cores(self, sharing: bool) -> None:
        """Score on one torch thread fewer while a learning child trains beside this process.

        Torch's workers spin while they wait for a core; two processes' workers on the same
        cores slow both to a crawl, and the child's training has a wall-time cap.
        """
        threads = self._options["threads"]
        if threads is not None and threads > 1:
            from .model import set_threads

            set_threads(threads - 1 if sharing else threads)

    @property
    def threshold(self) -> float | None:
        """The surprise threshold of the alert rule (None: the model has no calibration)."""
        return self.rule.threshold

    @property
    def min_lines(self) -> int:
        return self.rule.min_lines

    def reset(self) -> None:
        """Forget every session (their windows and alert state): the lines are scored again from the start."""
        for info in self.sessions.pop_all():
            self._forget(info.key)
        self._ended.clear()

    def enable_session_ends(self) -> None:
        """Judge sessions as they end with the model's session check; EngineError if it has none."""
        data = self.calibration.session_check if self.calibration is not None else None
        if not data:
            raise EngineError(f"model {self.model_name} has no session check: train it with "
                              "`logwatch train --session-check`")
        try:
            check = SessionCheck.from_dict(data)
        except SessionCheckError as exc:
            raise EngineError(str(exc)) from None
        if not check.enabled:
            raise EngineError(f"model {self.model_name}: its session check is stored but disabled")
        self.session_check = check
        self.judge_sessions_with(check)

    def judge_sessions_with(self, check: SessionCheck) -> None:
        """``check`` will judge every session when it ends (the caller's promise, when it is not
        this engine that judges: evaluation does at the end of the log); sessions keep their mix."""
        self.judged_by = check

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def load(cls, model_dir: str | Path | None = None, *, device: str = "auto",
             session_regex: str | None = None, **kwargs: Any) -> Engine:
        """Open a model directory (None = the bundled default model)."""
        from .model import load_model_dir

        try:
            loaded = load_model_dir(model_dir)
        except ModelDirError as exc:
            raise EngineError(str(exc)) from None
        return cls(loaded=loaded, device=device, session_regex=session_regex, **kwargs)

    @classmethod
    def from_settings(cls, settings: RunSettings, *, loaded: LoadedModel | None = None,
                      known_normal: KnownNormal | None = None, threads: int | None = None,
                      session_ends: bool | None = None) -> Engine:
        """The engine one run asked for: ``loaded`` if given (a remembered model), else the
        settings' ``--model`` (None: the bundled one). ``session_ends`` overrides the settings'
        (the monitor enables the check itself, to tell a model without one in its status bar)."""
        options: dict[str, Any] = {
            "device": settings.device, "session_regex": settings.session_regex, "precision": settings.precision,
            "idle_seconds": settings.idle_seconds, "known_normal": known_normal, "threads": threads,
            "session_ends": settings.session_ends if session_ends is None else session_ends}
        if loaded is not None:
            return cls(loaded=loaded, **options)
        return cls.load(settings.model_dir, **options)

    @classmethod
    def unscored(cls, *, session_regex: str | None = None, **kwargs: Any) -> Engine:
        """An engine without a model: lines are parsed and keyed, loss stays None."""
        return cls(loaded=None, session_regex=session_regex, **kwargs)

    def take_problems(self) -> list[str]:
        """What went wrong while scoring that the operator must be told, each once: what is new
        since the last call (like :meth:`take_ended`)."""
        current = [self.keyer.failure] if self.keyer.failure else []
        if self.non_finite_lines:
            current.append("the model gave NaN or infinite losses (broken weights?): those lines are shown unscored")
        new = [problem for problem in current if problem not in self._told]
        self._told.update(new)
        return new

    @property
    def scoring(self) -> bool:
        return self.scorer is not None

    # -- the work -------------------------------------------------------------------------
    def score_batch(self, lines: Sequence[LogLine]) -> list[ScoredLine]:
        """Score lines (any mix of sessions), same order and count; never raises on text."""
        out: list[ScoredLine] = []
        messages: list[str] = []
        for line in lines:
            parsed = parse_line(line.text)
            session = self._entries.key(line.text, line.source, parsed.fmt)
            # The one mask of this line: the model reads it, and every consumer after takes it from the line.
            out.append(ScoredLine(n=line.n, source=source_label(line.source), arrival=line.arrival, text=line.text,
                                  session=session, pattern=masked_line(parsed), ts=parsed.ts, level=parsed.level))
            messages.append(parsed.message)
        # A blank line says nothing: it is shown, but neither scored nor part of any session's story.
        worded = [i for i, scored in enumerate(out) if scored.text.strip()]
        if self.scorer is not None and self.tokenizer is not None and worded:
            spec = self.scorer.spec
            encoded = self.tokenizer.encode_with_pieces([out[i].pattern for i in worded], max_tokens=spec.max_line_tokens)
            per_token = self.scorer.score([(out[i].session, ids) for i, (ids, _) in zip(worded, encoded)])
            for i, (_, pieces), losses in zip(worded, encoded, per_token):
                loss = sum(losses) / len(losses)
                if not math.isfinite(loss):  # broken weights: no verdict rather than NaN everywhere downstream
                    self.non_finite_lines += 1
                    continue
                out[i].loss = loss
                out[i].tokens = tuple(zip(pieces, losses))  # rounded where printed or recorded
        known = self.known_normal
        if known is not None:
            known.refresh()  # marks made by another logwatch (the monitor) while this one runs
        for i in worded:
            self._track(out[i], messages[i], known is not None and known.is_known_pattern(out[i].pattern))
        self.lines_scored += len(out)
        if self._change is not None and out:
            out[0].model, self._change = self._change, None
        return out

    def preview(self, lines: Sequence[LogLine], rule: AlertRule) -> list[ScoredLine]:
        """Lines parsed and keyed but not scored (the model is being learned), judged by ``rule``
        alone (severity: an incident in progress still alerts); no session state changes."""
        out = []
        for line in lines:
            parsed = parse_line(line.text)
            scored = ScoredLine(n=line.n, source=source_label(line.source), arrival=line.arrival, text=line.text,
                                session=self._preview_entries.key(line.text, line.source, parsed.fmt),
                                pattern=masked_line(parsed), ts=parsed.ts, level=parsed.level)
            scored.why = rule.reasons(loss=None, level=parsed.level, message=parsed.message, pattern=scored.pattern,
                                      surprising_in_session=0)
            scored.alert = bool(scored.why)
            out.append(scored)
        return out

    def warm(self, lines: Sequence[LogLine]) -> None:
        """Feed lines as context only (after :meth:`use_model`): windows fill, nothing is judged."""
        if self.scorer is None or self.tokenizer is None or not lines:
            return
        parsed = [parse_line(line.text) for line in lines]
        encoded = self.tokenizer.encode_lines([masked_line(p) for p in parsed], max_tokens=self.scorer.spec.max_line_tokens)
        entries = EntryKeys(self.keyer)  # lines already scored once: a pass of their own
        self.scorer.score([(entries.key(line.text, line.source, p.fmt), ids)
                           for line, p, ids in zip(lines, parsed, encoded)])

    def _track(self, scored: ScoredLine, message: str, known_normal: bool = False) -> None:
        info, evicted = self.sessions.touch(scored.session, scored.arrival)
        for key in evicted:  # over capacity: dropped unjudged (it may well be still running)
            self._forget(key)
        info.last_n = scored.n
        pattern = scored.pattern
        after, info.last_pattern = info.last_pattern, pattern
        if self.judged_by is not None:
            if info.templates is None:
                info.templates = Counter()
            info.templates[pattern] += 1
        if known_normal or not self.rule.active:
            return
        if self.rule.surprising(scored.loss):
            info.over_threshold += 1
        top_token = scored.top_token
        check = self.judged_by
        if check is not None and check.enabled and info.templates is not None \
                and self.rule.order_surprise(loss=scored.loss, level=scored.level, pattern=pattern, after=after,
                                             top_token=top_token):
            scored.order_only = check.fits_normal_mix(info.templates)
            if scored.order_only and not info.order_only_n:
                info.order_only_n = scored.n
        scored.why = self.rule.reasons(loss=scored.loss, level=scored.level, message=message, pattern=pattern,
                                       surprising_in_session=info.over_threshold, normal_mix=scored.order_only,
                                       after=after, top_token=top_token)
        if scored.why:
            scored.alert = True
            info.alerted = True

    def evict_idle(self, now: float | None = None) -> list[str]:
        """Close sessions idle longer than the idle time so memory stays bounded."""
        return self._end(self.sessions.pop_idle(time.time() if now is None else now))

    def close_all(self) -> list[str]:
        """The input is over: every open session ends (and is judged, with ``session_ends``)."""
        return self._end(self.sessions.pop_all())

    def take_ended(self) -> list[SessionEnd]:
        """Verdicts on the sessions that ended since the last call, in the order they ended."""
        ended, self._ended = self._ended, []
        return ended

    def _end(self, infos: list[SessionInfo]) -> list[str]:
        check = self.session_check
        judged = {info.key: info for info in infos if info.templates}  # templates are kept only with a check
        if check is not None and judged:
            scores = check.score_many({key: info.templates or Counter() for key, info in judged.items()})
            for info in judged.values():
                score = scores[info.key]
                alert = "session" in self.rule.signals and check.flags(score)
                why: tuple[str, ...] = (session_reason(score, check.threshold),) if alert else ()
                if alert and info.order_only_n:  # the surprise it was left to judge
                    why += (order_reason(info.order_only_n),)
                self._ended.append(SessionEnd(info.key, info.last_n, info.lines, score, check.threshold, alert, why))
        for info in infos:
            self._forget(info.key)
        return [info.key for info in infos]

    def _forget(self, session: str) -> None:
        if self.scorer is not None:
            self.scorer.drop(session)
