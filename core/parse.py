"""Pull timestamp, level, component and message out of a log line.

Formats are tried cheapest-first and each is anchored at the start of the line, so a
message that merely contains something timestamp-like is never mistaken for a header.
Anything that matches no format is kept whole as the message (``fmt="raw"``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from .types import ParsedLine

_LEVELS = r"(?P<level>TRACE|DEBUG|INFO|NOTICE|WARNING|WARN|ERROR|CRITICAL|FATAL|AUDIT)"

# Loghub OpenStack: "<logfile> 2017-05-16 00:00:00.008 25746 INFO nova.compute.manager [req-…] …"
# and plain oslo.log: "2017-05-16 00:00:00.008 25746 INFO nova…" or just "INFO nova.compute.manager …".
_OPENSTACK = re.compile(
    r"^(?:(?P<file>\S+\.log\S*)\s+)?"
    r"(?:(?P<ts>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?)\s+(?:(?P<pid>\d+)\s+)?)?"
    + _LEVELS
    + r"\s+(?P<component>[a-z_][\w.]*\.[\w.]+)\s+(?P<message>.*)$",
    re.DOTALL,
)

# HDFS: "081109 203530 147 INFO dfs.DataNode$DataXceiver: Receiving block blk_… src: … dest: …"
_HDFS = re.compile(
    r"^(?P<ts>\d{6}\s+\d{6})\s+(?P<pid>\d+)\s+" + _LEVELS + r"\s+(?P<component>[\w.$]+):\s?(?P<message>.*)$",
    re.DOTALL,
)

# Blue Gene/L RAS (Loghub BGL): "[<alert tag>] 1117838570 2005.06.03 R02-M1-N0-C:J12-U11
# 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected".
# The node name and both dates are header, not message: kept in the message they would be a new
# "word" on every node. Loghub's leading alert tag ("-" = none) is dropped with the header.
_BGL = re.compile(
    r"^(?:(?:-|[A-Z_]+)\s+)?\d{9,10}\s+\d{4}\.\d{2}\.\d{2}\s+\S+\s+"
    r"(?P<ts>\d{4}-\d{2}-\d{2}-\d{2}\.\d{2}\.\d{2}(?:\.\d+)?)\s+\S+\s+RAS\s+"
    r"(?P<component>[A-Z_]+)\s+(?P<level>INFO|WARNING|SEVERE|ERROR|FATAL|FAILURE)\s+(?P<message>.*)$",
    re.DOTALL,
)

# RFC 3164 syslog: "Jun  9 06:06:20 host sshd[1234]: message"; RFC 5424-ish ISO timestamps too.
_SYSLOG = re.compile(
    r"^(?P<ts>(?:[A-Z][a-z]{2}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2})"
    r"|(?:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?))\s+"
    r"(?P<host>\S+)\s+(?P<component>[\w./()-]+)(?:\[\d+\])?:\s?(?P<message>.*)$",
    re.DOTALL,
)

# Generic "2024-01-02 03:04:05,678 LEVEL rest" (Python logging, many Java apps).
_GENERIC = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\s+"
    r"(?:\[?(?P<level>[A-Z]+)\]?\s+)?(?P<message>.*)$",
    re.DOTALL,
)

_JSON_TS_KEYS = ("ts", "timestamp", "time", "@timestamp", "asctime", "date")
_JSON_LEVEL_KEYS = ("level", "levelname", "severity", "lvl", "log.level")
_JSON_COMPONENT_KEYS = ("logger", "name", "component", "logger_name", "module", "service")
_JSON_MESSAGE_KEYS = ("message", "msg", "event", "log", "text")
_KNOWN_LEVELS = {"TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "WARN", "ERROR", "CRITICAL", "FATAL", "AUDIT"}


# A JSON field is as untrusted as the raw line, and more: its escapes can spell what raw bytes
# decoded with errors="replace" never hold (lone surrogates, which no encoder accepts) and control
# characters that the raw text shows escaped. Fields are cleaned here, once, for every consumer.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_LEVEL_WORD = re.compile(r"[A-Za-z]{1,12}")  # fullmatch: "$" would let a trailing newline through
_HEADER_CHARS = 64  # a timestamp or logger name longer than this is not one


def clean_field(value: str, limit: int | None = None) -> str:
    """``value`` without control, bidi-override or surrogate characters (each becomes U+FFFD), cut to ``limit``."""
    if limit is not None and len(value) > limit:
        value = value[:limit]
    return _UNSAFE.sub("\ufffd", value)


def _first(obj: dict[str, object], keys: tuple[str, ...], limit: int | None = _HEADER_CHARS) -> str | None:
    for key in keys:
        value = obj.get(key)
        if value is not None and not isinstance(value, (dict, list)):
            return clean_field(str(value), limit)
    return None


def _parse_json(text: str) -> ParsedLine | None:
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting past the interpreter's limit
        return None
    if not isinstance(obj, dict):
        return None
    level = _first(obj, _JSON_LEVEL_KEYS)
    message = _first(obj, _JSON_MESSAGE_KEYS, limit=None)
    if message is None:
        # Keep the structure visible but stable: keys sorted, volatile values masked later.
        try:
            message = clean_field(json.dumps(obj, sort_keys=True, ensure_ascii=False))
        except (ValueError, TypeError, RecursionError):
            message = clean_field(text)
    return ParsedLine(
        ts=_first(obj, _JSON_TS_KEYS),
        # A level is a word (INFO, warn, SEVERE); anything else in that field is not a level.
        level=level.upper() if level and _LEVEL_WORD.fullmatch(level) else None,
        component=_first(obj, _JSON_COMPONENT_KEYS),
        message=message,
        fmt="json",
    )


def parse_line(text: str) -> ParsedLine:
    """Split ``text`` into header fields and message; never raises."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        parsed = _parse_json(stripped)
        if parsed is not None:
            return parsed
    match = _OPENSTACK.match(text)
    if match:
        return ParsedLine(match["ts"], match["level"], match["component"], match["message"], "openstack")
    match = _HDFS.match(text)
    if match:
        return ParsedLine(match["ts"], match["level"], match["component"], match["message"], "hdfs")
    match = _BGL.match(text)
    if match:
        return ParsedLine(match["ts"], match["level"], match["component"], match["message"], "bgl")
    match = _SYSLOG.match(text)
    if match:
        return ParsedLine(match["ts"], None, match["component"], match["message"], "syslog")
    match = _GENERIC.match(text)
    if match:
        level = match["level"]
        if level is not None and level not in _KNOWN_LEVELS:
            # Not a level after all: keep it as part of the message.
            return ParsedLine(match["ts"], None, None, text[match.start("level") :].lstrip("["), "generic")
        return ParsedLine(match["ts"], level, None, match["message"], "generic")
    return ParsedLine(None, None, None, text, "raw")


_TS_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S",
               "%y%m%d %H%M%S", "%Y-%m-%d-%H.%M.%S.%f", "%Y-%m-%d %H:%M:%S,%f")


def timestamp_seconds(ts: str | None) -> float | None:
    """Seconds (naive, as written) for the timestamp shapes logwatch parses; None if unknown.

    Only differences between two such values are used (lead time, alert rates), so the time zone
    does not matter as long as both sides come from the same log. Syslog's year-less stamps and
    anything else unknown give None (the caller falls back on arrival time).
    """
    if not ts:
        return None
    text = " ".join(ts.split())
    for fmt in _TS_FORMATS:
        try:
            return datetime.strptime(text, fmt).timestamp()
        except ValueError:
            continue
    return None
