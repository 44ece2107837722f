"""The one escaping function for everything logwatch shows: on stderr, in a toast, on the screen.

File names, session keys, log text, option values and exception messages come from outside. A
name like ``$'\\e]2;PWNED\\a.log'`` written raw to a terminal sets its title; ``\\x9b`` is a CSI
on some terminals; a bidi override makes a name read backwards. :func:`printable` is the only
way such text reaches a terminal: ``tui.render.safe_text`` (everything drawn in the monitor),
every ``logwatch:`` line (``cli.common.say``) and every toast go through it. JSON output has
its own escaping (:mod:`.jsonl`), which keeps the text exact for programs.
"""

from __future__ import annotations

import re

#: Characters never written raw: C0 controls (tab and newline included: a message is one line,
#: and a tab breaks column maths), DEL, C1 controls, the Arabic letter mark, the LRM/RLM marks,
#: the Unicode line and paragraph separators, the bidi embeddings, overrides and isolates, and
#: lone surrogates (undecodable bytes of a file name; they cannot even be encoded for output).
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")

#: Longest escape one character becomes (``\\u202e``): the output of :func:`printable` is at
#: most this many times its ``limit``, plus the ellipsis.
WIDEST_ESCAPE = 6

#: Characters of a message a ``logwatch:`` line or a toast shows (a Linux path is at most 4,096
#: bytes; a message longer than this is cut, an exception's text never floods a terminal).
MESSAGE_CHARS = 2_000


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x09:
        return "\\t"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, limit: int = 4_000) -> str:
    """``text`` safe to write to a terminal: every unsafe character a visible escape (``\\x1b``,
    ``\\u202e``), cut to its first ``limit`` characters (``…`` says it was cut)."""
    cut = text[:limit]
    cleaned = UNSAFE.sub(_escape, cut)
    return cleaned + ("…" if len(text) > limit else "")


def describe(exc: BaseException) -> str:
    """What went wrong, in words, for a message: an OS error's reason and the file it concerns
    (``No such file or directory: x.log``, not ``[Errno 2] ... 'x.log'``, nor a ``PosixPath(...)``
    repr), else the exception's own text. Not yet escaped: the message it joins is, as a whole."""
    if isinstance(exc, OSError) and exc.strerror:
        name = exc.filename
        if name is None:
            return exc.strerror
        return f"{exc.strerror}: {name.decode('utf-8', 'replace') if isinstance(name, bytes) else name}"
    text = str(exc)
    if isinstance(exc, KeyError) or not text:  # a KeyError's text is the key's repr: say what kind of failure
        return f"unexpected {type(exc).__name__}{': ' + text if text else ''}"
    return text
