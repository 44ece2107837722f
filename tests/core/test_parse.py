from __future__ import annotations

import json

import pytest

from logwatch.core.parse import parse_line


@pytest.mark.parametrize("line,fmt,ts,level,component,message_start", [
    ("nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server "
     "[req-38101a0b-2096-447d-96ea-a692162415ae - - -] GET", "openstack", "2017-05-16 00:00:00.008", "INFO",
     "nova.osapi_compute.wsgi.server", "[req-"),
    ("2017-05-16 00:00:00.008 25746 WARNING nova.compute.manager [-] hi", "openstack", "2017-05-16 00:00:00.008",
     "WARNING", "nova.compute.manager", "[-] hi"),
    ("ERROR nova.compute.manager [req-1] [instance: x] boom", "openstack", None, "ERROR", "nova.compute.manager", "[req-1]"),
    ("081109 203530 147 INFO dfs.DataNode$DataXceiver: Receiving block blk_1 src: /1.2.3.4:1", "hdfs",
     "081109 203530", "INFO", "dfs.DataNode$DataXceiver", "Receiving block"),
    ("Jun  9 06:06:20 combo sshd(pam_unix)[19939]: authentication failure", "syslog", "Jun  9 06:06:20", None,
     "sshd(pam_unix)", "authentication failure"),
    ('{"ts": "2024-01-01T00:00:00Z", "level": "warn", "logger": "api", "msg": "slow"}', "json",
     "2024-01-01T00:00:00Z", "WARN", "api", "slow"),
    ("2024-01-02 03:04:05,678 ERROR something broke", "generic", "2024-01-02 03:04:05,678", "ERROR", None, "something"),
    ("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO "
     "instruction cache parity error corrected", "bgl", "2005-06-03-15.42.50.675872", "INFO", "KERNEL", "instruction"),
    ("1117869872 2005.06.04 R04-M1-N4-I:J18-U11 2005-06-04-00.24.32.432192 R04-M1-N4-I:J18-U11 RAS APP FATAL "
     "ciod: failed", "bgl", "2005-06-04-00.24.32.432192", "FATAL", "APP", "ciod: failed"),
    ("just some text [bold]", "raw", None, None, None, "just some text [bold]"),
    ("", "raw", None, None, None, ""),
])
def test_formats(line, fmt, ts, level, component, message_start) -> None:
    parsed = parse_line(line)
    assert (parsed.fmt, parsed.ts, parsed.level, parsed.component) == (fmt, ts, level, component)
    assert parsed.message.startswith(message_start)


def test_json_that_is_not_an_object_is_raw() -> None:
    assert parse_line("[1, 2, 3]").fmt == "raw"
    assert parse_line("{not json").fmt == "raw"


def test_bgl_header_never_reaches_the_message() -> None:
    """Node names and dates would be a new word per node; Loghub's alert tag is the answer."""
    line = ("KERNDTLB 1118536327 2005.06.11 R30-M0-N9-C:J16-U01 2005-06-11-17.32.07.581048 R30-M0-N9-C:J16-U01 "
            "RAS KERNEL FATAL data TLB error interrupt")
    parsed = parse_line(line)
    assert parsed.message == "data TLB error interrupt"
    assert "KERNDTLB" not in parsed.message and "R30" not in parsed.message


def test_a_json_level_is_a_whole_word_or_none() -> None:
    """Hypothesis found "NaN\\n" read as level "NAN\\n": a regex "$" matches before a final newline."""
    for raw in ("NaN\n", "INFO\n", "WARN\r", "ERROR x", ""):
        assert parse_line(json.dumps({"level": raw, "msg": "m"})).level is None
    assert parse_line(json.dumps({"level": "warn", "msg": "m"})).level == "WARN"
