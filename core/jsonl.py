"""JSON lines as logwatch writes them: readable UTF-8 that is safe on a terminal.

``json.dumps(ensure_ascii=False)`` escapes C0 controls but leaves DEL, the C1 controls (0x9b is
a CSI on some terminals), Unicode line separators and bidi overrides raw, and fails on lone
surrogates. Everything logwatch prints or records as JSON goes through :func:`dumps`.
"""

from __future__ import annotations

import json
from typing import Any

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
