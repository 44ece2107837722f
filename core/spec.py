"""The model directory's file names, its ``spec.json`` and its ``patterns.json``.

One spec dataclass describes everything needed to rebuild the network and feed it the same
text it was trained on (nanoGPT style); it is saved beside the weights. The alert rule lives
in a file of its own (``calibration.json``, :class:`~logwatch.core.calibrate.Calibration`)
because it changes without retraining (``logwatch calibrate``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from .escape import describe
from .jsonl import finite, loads

SPEC_FILE = "spec.json"
TOKENIZER_FILE = "tokenizer.json"
WEIGHTS_FILE = "model.safetensors"
CALIBRATION_FILE = "calibration.json"
SUMMARY_FILE = "training_summary.json"
PATTERNS_FILE = "patterns.json"
PATTERNS_FORMAT = "logwatch-patterns"
#: Patterns kept in patterns.json, most frequent first (a log with more distinct masked lines
#: than this is not one where "never seen" means much).
MAX_PATTERNS = 50_000
#: Pattern pairs (one line's pattern, then the next line's in the same session) kept in patterns.json.
MAX_PAIRS = 200_000
#: Largest count of a pattern read from patterns.json (a trillion lines: far past any log).
MAX_COUNT = 10**12
MODEL_FORMAT = "logwatch-model"
#: The newest spec.json this logwatch reads. Version 2 adds ``slide_keep``; a spec without it is
#: still written as version 1, so only models that need the newer windowing refuse older readers.
MODEL_FORMAT_VERSION = 2
#: ``slide_keep`` of the models that learning makes (:mod:`.learn`): about 3-4 lines of a real
#: nova log kept after a slide. Measured on Loghub's OpenStack lines, whose all-day periodic
#: request slides every few lines: the old rule (keep ``n_ctx - 1 - max_line_tokens`` = 79 tokens)
#: re-read 79 tokens every 4-5 lines, 60% of the tokens the model ran.
LEARNED_SLIDE_KEEP = 32


class ModelDirError(ValueError):
    """A model directory that cannot be used; the message is shown to the user as is."""


#: What a spec.json may ask for (far above LogGPT-Small, far below what would exhaust memory).
_SIZE_BOUNDS = {"vocab_size": (8, 1_000_000), "n_layer": (1, 64), "n_head": (1, 64), "n_embd": (8, 8192),
                "n_ctx": (8, 8192), "max_line_tokens": (2, 4096), "mask_version": (0, 1_000), "version": (0, 1_000)}
#: Largest JSON file of a model directory read (patterns.json of 50,000 patterns is ~5 MB).
MAX_JSON_BYTES = 64 * 1024 * 1024
#: Largest model.safetensors read (LogGPT-Small is 15 MB in fp32).
MAX_WEIGHTS_BYTES = 2 * 1024**3


def model_file(path: Path, limit: int | None = MAX_JSON_BYTES) -> Path:
    """``path`` if it is a regular file within ``limit`` bytes; else a ModelDirError saying why.

    A FIFO or a device (/dev/zero) named like a model file would block or never end the read.
    """
    import os
    import stat

    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ModelDirError(f"model directory {path.parent} is missing {path.name}") from None
    except OSError as exc:
        raise ModelDirError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ModelDirError(f"{path} is not a regular file")
    if limit is not None and st.st_size > limit:
        raise ModelDirError(f"{path} is {st.st_size:,} bytes; a model's {path.name} is at most {limit:,}")
    if not os.access(path, os.R_OK):
        raise ModelDirError(f"cannot read {path}: permission denied")
    return path


@dataclass(frozen=True)
class ModelSpec:
    """Architecture and input conventions of one trained model (LogGPT-Small defaults)."""

    vocab_size: int
    """Tokenizer vocabulary size, markers included; the LM head has this many outputs."""
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 256
    n_ctx: int = 128
    """Context window in tokens; the scorer slides whole lines through it."""
    max_line_tokens: int = 48
    """A line is scored on at most this many tokens (EOL included); the rest is ignored."""
    session_rule: str = "builtin"
    """How lines were grouped into sessions in training: "builtin" or a regex with one group."""
    mask_version: int = 1
    """Masking rules version (masking.MASK_VERSION) the tokenizer and model were trained on."""
    slide_keep: int | None = None
    """Tokens of whole recent lines a session's window keeps when it slides (training cuts its
    windows the same way). None, as in models before version 2: ``n_ctx - 1 - max_line_tokens``."""
    format: str = MODEL_FORMAT
    version: int = MODEL_FORMAT_VERSION

    def __post_init__(self) -> None:
        # spec.json is untrusted: every size is checked before anything is allocated from it.
        for name, (low, high) in _SIZE_BOUNDS.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ModelDirError(f"spec.json: {name} must be a whole number from {low} to {high}, not {value!r}")
        if not isinstance(self.session_rule, str) or not isinstance(self.format, str):
            raise ModelDirError("spec.json: session_rule and format must be strings")
        if self.n_embd % self.n_head:
            raise ModelDirError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")
        if not 2 <= self.max_line_tokens <= self.n_ctx // 2:
            raise ModelDirError(f"max_line_tokens must be between 2 and n_ctx/2 ({self.n_ctx // 2})")
        most = self.most_keep_tokens
        keep = self.slide_keep
        if keep is not None and (not isinstance(keep, int) or isinstance(keep, bool) or not 0 <= keep <= most):
            raise ModelDirError(f"spec.json: slide_keep must be a whole number from 0 to {most}, not {keep!r}")

    @property
    def most_keep_tokens(self) -> int:
        """The most a slid window can keep and still hold the marker and one more line of any length."""
        return self.n_ctx - 1 - self.max_line_tokens

    @property
    def keep_tokens(self) -> int:
        """Context kept (in whole lines) when the window slides: ``slide_keep``, or the most (older models)."""
        return self.most_keep_tokens if self.slide_keep is None else self.slide_keep

    def save(self, directory: Path) -> None:
        data = asdict(self)
        if self.slide_keep is None:
            del data["slide_keep"]
            data["version"] = min(self.version, 1)
        else:  # an older logwatch would cut the windows differently: it must refuse the model
            data["version"] = max(self.version, 2)
        write_json(directory / SPEC_FILE, data)

    @classmethod
    def load(cls, directory: Path) -> ModelSpec:
        data = read_json(directory / SPEC_FILE)
        if data.get("format") != MODEL_FORMAT:
            raise ModelDirError(f"{directory / SPEC_FILE} is not a logwatch model spec")
        version = data.get("version", 0)
        if not isinstance(version, int) or isinstance(version, bool):
            raise ModelDirError(f"{directory / SPEC_FILE}: version must be a whole number, not {version!r}")
        if version > MODEL_FORMAT_VERSION:
            raise ModelDirError(
                f"{directory} was made by a newer logwatch (model format {data.get('version')}); "
                f"this one reads up to {MODEL_FORMAT_VERSION}"
            )
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise ModelDirError(f"{directory / SPEC_FILE}: {exc}") from None


def save_patterns(directory: Path, counts: Counter[str], pairs: Iterable[tuple[str, str]] | None = None) -> None:
    """The masked lines of the model's normal data, with how often each occurred; and, when
    known, which pattern followed which within a session (as pairs of indexes into the list)."""
    ordered = [[pattern, n] for pattern, n in counts.most_common(MAX_PATTERNS)]
    data: dict[str, Any] = {"format": PATTERNS_FORMAT, "version": 1, "patterns": ordered}
    if pairs is not None:
        index = {pattern: i for i, (pattern, _) in enumerate(ordered)}
        kept = sorted({(index[a], index[b]) for a, b in pairs if a in index and b in index})
        data["pairs"] = [list(pair) for pair in kept[:MAX_PAIRS]]
    write_json(directory / PATTERNS_FILE, data)


def load_patterns(directory: Path) -> tuple[dict[str, int] | None, frozenset[tuple[str, str]] | None]:
    """Pattern -> count from patterns.json, and the pattern pairs; None for what the directory
    does not hold (older models: no patterns.json, or one without pairs)."""
    path = directory / PATTERNS_FILE
    if not path.exists():
        return None, None
    data = read_json(path)
    rows = data.get("patterns")
    if data.get("format") != PATTERNS_FORMAT or not isinstance(rows, list) or len(rows) > MAX_PATTERNS:
        raise ModelDirError(f"{path} is not a logwatch patterns file (or holds more than {MAX_PATTERNS} patterns)")
    counts: dict[str, int] = {}
    for row in rows:
        if not (isinstance(row, list) and len(row) == 2 and isinstance(row[0], str) and _is_count(row[1])):
            raise ModelDirError(f"{path}: each pattern must be [text, count], a count a whole number "
                                f"from 0 to {MAX_COUNT:,}")
        counts[row[0]] = row[1]
    raw_pairs = data.get("pairs")
    if raw_pairs is None:
        return counts, None
    names = [str(pattern) for pattern, _ in rows]
    if not isinstance(raw_pairs, list) or len(raw_pairs) > MAX_PAIRS:
        raise ModelDirError(f"{path}: pairs must be a list of at most {MAX_PAIRS} [index, index]")
    try:
        pairs = frozenset((names[a], names[b]) for a, b in raw_pairs
                          if isinstance(a, int) and isinstance(b, int) and a >= 0 and b >= 0)
    except (TypeError, ValueError, IndexError):
        raise ModelDirError(f"{path}: each pair must be [index, index] into its patterns") from None
    return counts, pairs


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT


def session_pairs(sessions: Iterable[Iterable[str]]) -> set[tuple[str, str]]:
    """(pattern, next pattern) of consecutive lines within each session (patterns in order)."""
    pairs: set[tuple[str, str]] = set()
    for patterns in sessions:
        previous: str | None = None
        for pattern in patterns:
            if previous is not None:
                pairs.add((previous, pattern))
            previous = pattern
    return pairs


def write_json(path: Path, data: dict[str, Any]) -> None:
    """A model directory's JSON file, strict JSON (:func:`read_json` refuses NaN and Infinity)."""
    path.write_text(json.dumps(finite(data), indent=2, sort_keys=False, allow_nan=False) + "\n", encoding="utf-8")


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object of a model directory's (or a learned model's) file, read strictly
    (:func:`.jsonl.loads`: no NaN or Infinity, no nesting past the recursion limit); a
    ModelDirError saying why for anything else."""
    model_file(path)
    try:
        data = loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelDirError(f"model directory {path.parent} is missing {path.name}") from None
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise ModelDirError(f"cannot read {path}: {describe(exc)}") from None
    if not isinstance(data, dict):
        raise ModelDirError(f"{path} does not hold a JSON object")
    return data
