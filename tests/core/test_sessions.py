from __future__ import annotations

import pytest

from logwatch.core.sessions import SessionKeyer, SessionRuleError, SessionTable, compile_session_regex

UUID = "b9000564-fe1a-409b-b8cc-1e88b294cd1d"
REQ = "req-3ea4052c-895d-4b64-9e2d-04d64c4d94ab"


def test_builtin_keys_prefer_instance_then_block_then_request() -> None:
    keyer = SessionKeyer()
    assert keyer.key(f"INFO x [{REQ} a b - - -] [instance: {UUID}] Took 1 s", "f") == UUID
    assert keyer.key("081109 203530 147 INFO dfs.X: Receiving block blk_-42 src", "f") == "blk_-42"
    assert keyer.key(f"INFO nova.api [{REQ} a b] GET /v2", "f") == REQ
    assert keyer.key("INFO nova.compute.manager [-] Running periodic task", "nova.log") == "<unkeyed:nova.log>"


def test_custom_regex_overrides() -> None:
    keyer = SessionKeyer(r"user=(\w+)")
    assert keyer.key(f"user=bob [instance: {UUID}]", "f") == "bob"
    assert keyer.key("no user here", "-") == "<unkeyed:->"


@pytest.mark.parametrize("pattern", ["(unclosed", "no groups", "(a)(b)"])
def test_bad_regex_is_a_clear_error(pattern: str) -> None:
    with pytest.raises(SessionRuleError, match="session-regex"):
        compile_session_regex(pattern)


def test_table_evicts_idle_and_over_capacity() -> None:
    table = SessionTable(idle_seconds=10, max_sessions=3)
    for i, key in enumerate("abc"):
        table.touch(key, now=float(i))
    _, evicted = table.touch("d", now=5.0)
    assert evicted == ["a"]
    table.touch("b", now=20.0)
    assert table.evict_idle(now=21.0) == ["c", "d"]
    assert len(table) == 1 and "b" in table
