from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logwatch.core.sessions import (
    _BUILTIN_RULES,
    EntryKeys,
    SessionKeyer,
    SessionRuleError,
    SessionTable,
    compile_session_regex,
    is_continuation,
    unkeyed_session,
)
from logwatch.core.train import group_sessions

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


OTHER = "0b2f1a4c-7d3e-4f5a-9b8c-112233445566"
#: An ERROR entry with its traceback, a domain's XML dump, and a line between them that has no key.
MULTI_LINE = [
    ("nova.log", f"ERROR nova.compute.manager [{REQ} a b - - -] [instance: {UUID}] Build failed"),
    ("nova.log", "Traceback (most recent call last):"),
    ("nova.log", '  File "/usr/lib/python2.7/dist-packages/nova/compute/manager.py", line 1926, in _do_build'),
    ("nova.log", "RescheduledException: Build of instance was re-scheduled"),
    ("nova.log", "INFO nova.compute.manager [-] Running periodic task"),
    ("nova.log", "  orphan continuation of the periodic line"),
    ("nova.log", f"DEBUG nova.virt.libvirt.driver [{REQ}] [instance: {OTHER}] End _get_guest_xml xml=<domain>"),
    ("nova.log", f"  <uuid>{OTHER}</uuid>"),
    ("nova.log", "\tat org.example.Thing.run(Thing.java:42)"),
    ("nova.log", "</domain>"),
]


def test_a_multi_line_entry_is_one_session() -> None:
    entries = EntryKeys(SessionKeyer())
    keys = [entries.key(text, source) for source, text in MULTI_LINE]
    assert keys == [UUID] * 4 + ["<unkeyed:nova.log>"] * 2 + [OTHER] * 4
    # Keyed alone (no entry above), the same body lines fall into the catch-all session.
    keyer = SessionKeyer()
    assert [keyer.key(text, source) for source, text in MULTI_LINE[1:4]] == ["<unkeyed:nova.log>"] * 3


def test_training_groups_a_multi_line_entry_as_the_engine_keys_it() -> None:
    sessions = group_sessions(iter(MULTI_LINE), "builtin")
    assert [text for _, text in MULTI_LINE[:4]] == sessions[UUID]
    assert sessions[OTHER][-1] == "</domain>" and len(sessions[OTHER]) == 4


def test_continuations_follow_their_own_source_only() -> None:
    entries = EntryKeys(SessionKeyer())
    assert entries.key(f"INFO x [instance: {UUID}] a", "a.log") == UUID
    assert entries.key("  indented, but b.log has no entry yet", "b.log") == "<unkeyed:b.log>"
    assert entries.key("  indented in a.log", "a.log") == UUID


@pytest.mark.parametrize("text", [
    # Lines with a header of their own, or no body shape: never continuations, whatever came before.
    "- 1119977619 2005.06.28 R02-M1-NE 2005-06-28-09.53.39.479164 R02-M1-NE NULL DISCOVERY WARNING Node",
    "INFO nova.compute.manager [-] Running periodic task",
    "2017-05-16 00:00:00.008 2931 INFO nova.compute.manager [-] x",
    "081109 203530 147 INFO dfs.DataNode$PacketResponder: Received block blk_-42",
    "plain words at the start of a line",
    "Errors were found",
    "",
])
def test_what_is_not_a_continuation(text: str) -> None:
    assert not is_continuation(text)
    entries = EntryKeys(SessionKeyer())
    entries.key(f"INFO x [instance: {UUID}] a", "f")
    assert entries.key(text, "f") == SessionKeyer().key(text, "f")


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
