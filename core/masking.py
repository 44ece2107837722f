"""Replace volatile fields with typed placeholders before tokenizing.

Without masking every request id, UUID and timestamp is a "new word" and the model learns
nothing general (Drain finds 12,789 templates in HDFS instead of ~30-90 without it). The
placeholders stay *typed* (``<IP>`` vs ``<NUM>``) so the model still sees what kind of value
stood there. What the model reads for a parsed line is ``LEVEL component message``: the
header's timestamp, pid and file name are dropped, level and logger are kept as words.
"""

from __future__ import annotations

import functools
import re

from .parse import parse_line
from .types import ParsedLine

#: Bumped whenever the masked text of some line changes (v3: BGL headers parsed, hex words of
#: 8+ digits); saved in spec.json so a model is
#: never fed text masked differently from what it was trained on.
MASK_VERSION = 3

#: Masked text is cut here before tokenizing: the scorer only reads a line's head anyway.
MAX_MASKED_CHARS = 1_000

PLACEHOLDERS: tuple[str, ...] = ("<TS>", "<REQ>", "<UUID>", "<BLK>", "<IP>", "<MAC>", "<PATH>", "<HEX>", "<NUM>")

_HEX = "[0-9a-fA-F]"
_UUID = rf"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"

# Order matters: the most specific shapes go first so that, e.g., a UUID is not eaten as NUMs.
# Each rule has a guard (literal, count): the rule cannot match a text holding fewer than
# ``count`` copies of ``literal``, and ``str.count`` is far cheaper than a failed regex scan.
_RULES: tuple[tuple[re.Pattern[str], str, str, int], ...] = (
    # Timestamps inside messages: ISO dates with optional time, and bare clock times.
    (re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?"), "<TS>", "-", 2),
    (re.compile(r"\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<TS>", ":", 2),
    # oslo request context "[req-<uuid> <user> <tenant> - - -]": one placeholder for the lot.
    (re.compile(rf"\[req-{_UUID}[^\]]*\]"), "[<REQ>]", "[req-", 1),
    (re.compile(rf"\breq-{_UUID}"), "<REQ>", "req-", 1),
    (re.compile(_UUID), "<UUID>", "-", 4),
    (re.compile(r"\bblk_-?\d+"), "<BLK>", "blk_", 1),
    (re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![\w.])"), "<IP>", ".", 3),
    (re.compile(r"\b(?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}\b"), "<MAC>", ":", 5),
    # File-system paths of three or more segments (job/task directories, instance files): their
    # names change over time and would read as new words. URL paths of HTTP requests are kept:
    # "servers/detail" vs "os-volume_attachments" is what the request did. The leading (?=/)
    # only makes the scan skip non-slash positions before the look-behinds run.
    (re.compile(r"(?=/)(?<!GET )(?<!POST )(?<!PUT )(?<!DELETE )(?<!HEAD )(?<!PATCH )(?<![\w.:/])"
                r"(?:/[\w.<>+-]+){3,}/?"), "<PATH>", "/", 3),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<HEX>", "0x", 1),
    # Hashes, tenant/user ids: long runs of hex with both a digit and a letter (pure digits are NUM).
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"), "<HEX>", "", 0),
    # Plain numbers, not glued to letters (keeps "v2", "x86", "ipv4" as words).
    (re.compile(r"(?<![A-Za-z0-9<])[-+]?\d+(?:\.\d+)?(?![A-Za-z>])"), "<NUM>", "", 0),
)


_SURROGATE = re.compile("[\ud800-\udfff]")


#: Messages up to this long are masked through a cache: real logs repeat whole messages (54,000
#: Loghub nova lines hold 17,583 distinct ones; a cache of 16,384 serves 63% of them), and masking
#: is the largest per-line cost outside the model. Longer messages are rare and masked afresh,
#: which also bounds the cache's memory (about 30 MB at worst, a few MB on typical lines).
MASK_CACHE_CHARS = 512
MASK_CACHE_ENTRIES = 32_768


def mask_text(text: str) -> str:
    """Mask volatile fields of free text; deterministic, never raises."""
    if len(text) <= MASK_CACHE_CHARS:
        return _mask_cached(str(text))  # str(): a str subclass must not share a cache entry
    return _mask(text)


@functools.lru_cache(maxsize=MASK_CACHE_ENTRIES)
def _mask_cached(text: str) -> str:
    return _mask(text)


def _mask(text: str) -> str:
    # Lone surrogates (from a lenient decoder or a JSON "\udcff" escape) cannot be encoded for
    # the tokenizer; they become U+FFFD like any other undecodable byte.
    text = _SURROGATE.sub("\ufffd", text[: MAX_MASKED_CHARS * 4])
    for pattern, placeholder, literal, count in _RULES:
        if not count or text.count(literal) >= count:
            text = pattern.sub(placeholder, text)
    return text[:MAX_MASKED_CHARS]


def masked_line(parsed: ParsedLine) -> str:
    """What the model reads for one parsed line: level, component and masked message."""
    head = " ".join(part for part in (parsed.level, parsed.component) if part)
    body = mask_text(parsed.message)
    return f"{head} {body}" if head else body


def mask_line(text: str) -> str:
    """Parse and mask a raw line in one call (for training and baselines)."""
    return masked_line(parse_line(text))
