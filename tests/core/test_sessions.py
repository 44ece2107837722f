from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logwatch.core.sessions import (
    _BUILTIN_RULES,
    SessionKeyer,
    SessionRuleError,
    SessionTable,
    compile_session_regex,
    unkeyed_session,
)

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


_KEY_PARTS = st.sampled_from([
    "[instance: 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0]", "[instance:", "blk_", "blk_-42", "blk_7", "req-",
    "req-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", " ", "x", "_", "-", "]",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_KEY_PARTS, st.text(max_size=6)), max_size=10))
def test_the_literal_guards_never_change_a_builtin_key(parts: list[str]) -> None:
    """Each built-in rule is skipped only where its literal is missing, so where it could not match."""
    text = "".join(parts)
    expected = unkeyed_session("app.log")
    for _literal, pattern in _BUILTIN_RULES:
        match = pattern.search(text)
        if match:
            expected = match.group(1)
            break
    assert SessionKeyer().key(text, "app.log") == expected
