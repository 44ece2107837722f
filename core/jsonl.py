"""JSON as logwatch writes it (readable UTF-8 that is safe on a terminal) and the numbers it reads.

``json.dumps(ensure_ascii=False)`` escapes C0 controls but leaves DEL, the C1 controls (0x9b is
a CSI on some terminals), Unicode line separators and bidi overrides raw, and fails on lone
surrogates. Everything logwatch prints or records as JSON goes through :func:`dumps`. And
``json`` reads ``NaN`` and ``Infinity`` as floats, any size of integer, and raises RecursionError
(not a ValueError) on nesting past the interpreter's limit: the files logwatch keeps (a model
directory's JSON, learned models, the known-normal marks) are read with :func:`loads`, which
refuses the non-finite constants and turns deep nesting into a ValueError, and numbers read from
files go through :func:`is_finite_number`.
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

# Characters JSON leaves raw but a terminal or an editor may act on.
_ESCAPES = {c: f"\\u{c:04x}" for c in
            [0x7F, *range(0x80, 0xA0), 0x200E, 0x200F, *range(0x2028, 0x202F), *range(0x2066, 0x206A)]}


def dumps(obj: Any, *, compact: bool = False) -> str:
    """One JSON document on one line (no newline added); exact even for lone surrogates."""
    separators = (",", ":") if compact else (", ", ": ")
    text = json.dumps(obj, ensure_ascii=False, separators=separators, default=str)
    if not text.isascii():
        text = text.translate(_ESCAPES)  # non-ASCII can only occur inside JSON strings
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: \\u-escaped, the reader gets it back exactly
        return json.dumps(obj, ensure_ascii=True, separators=separators, default=str)
    return text


def is_finite_number(value: object) -> bool:
    """A number as JSON gave it that is usable as a float: not a bool, NaN or an infinity, nor an
    integer too big for a float (``float()`` and ``math.isfinite`` raise OverflowError on one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


_STRICT = json.JSONDecoder(parse_constant=_refuse_constant)


def loads(text: str) -> Any:
    """A JSON document of a file logwatch keeps; ValueError (saying why) for anything that is not
    strict JSON: ``NaN`` and ``Infinity``, or nesting too deep to read (100,000 brackets)."""
    try:
        return _STRICT.decode(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinity (in any list or dict) made None: what logwatch writes to a
    file it reads back with :func:`loads`, which refuses them (a diverged figure in a learned
    model's calibration details must not make the model unreadable)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: finite(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(value) for value in obj]
    return obj
