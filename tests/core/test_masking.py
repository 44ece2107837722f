from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from logwatch.core.masking import (
    _RULES,
    _SURROGATE,
    MASK_CACHE_CHARS,
    MAX_MASKED_CHARS,
    _mask,
    _mask_cached,
    mask_line,
    mask_text,
)

NOVA = ("nova-compute.log.1.2017-05-16_13:55:31 2017-05-16 00:00:39.232 2931 INFO nova.compute.manager "
        "[req-3ea4052c-895d-4b64-9e2d-04d64c4d94ab 113d3a99c3da401fbd62cc2caa5b96d2 "
        "54fadb412c4e40cdbaed9335e4c35a9e - - -] [instance: b9000564-fe1a-409b-b8cc-1e88b294cd1d] "
        "Took 19.84 seconds to spawn the instance on the hypervisor.")


def test_nova_line_keeps_level_component_and_words() -> None:
    assert mask_line(NOVA) == (
        "INFO nova.compute.manager [<REQ>] [instance: <UUID>] Took <NUM> seconds to spawn the instance on the hypervisor.")


def test_typed_placeholders() -> None:
    text = ("blk_-1608999687919862906 from /10.250.19.102:54106 at 0xdeadbeef mac fa:16:3e:2a:b1:00 "
            "hash 9f86d081884c7d659a2f at 2017-05-16 00:00:39.232 v2 x86 count 42")
    assert mask_text(text) == "<BLK> from /<IP> at <HEX> mac <MAC> hash <HEX> at <TS> v2 x86 count <NUM>"


def test_lines_that_differ_only_in_ids_mask_the_same() -> None:
    other = NOVA.replace("19.84", "3.01").replace("b9000564", "a1000564").replace("00:00:39.232", "01:02:03.004")
    assert other != NOVA
    assert mask_line(other) == mask_line(NOVA)


def test_huge_and_hostile_text_is_bounded() -> None:
    masked = mask_text("\x00\x1b[2J " + "9" * 10_000_000)
    assert len(masked) <= MAX_MASKED_CHARS
    assert masked.startswith("\x00\x1b[2J <NUM>")


def test_file_paths_are_masked_but_request_urls_kept() -> None:
    from logwatch.core.masking import mask_line

    hdfs = ("081109 204005 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.allocateBlock: "
            "/user/root/sortrand/_temporary/_task_200811092030_0001_m_000191_0/part-00191. blk_123")
    assert mask_line(hdfs) == "INFO dfs.FSNamesystem BLOCK* NameSystem.allocateBlock: <PATH> <BLK>"
    nova = ('INFO nova.osapi_compute.wsgi.server [req-c53a921a-16c7-422e-8c9d-c922a720d047 - - - - -] 10.11.10.1 '
            '"DELETE /v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/b9000564-fe1a-409b-b8cc-1e88b294cd1d HTTP/1.1"')
    assert "/v2/<HEX>/servers/<UUID>" in mask_line(nova)
    assert mask_line("INFO nova.virt.libvirt.driver Deleting instance files /var/lib/nova/instances/x_del") == \
        "INFO nova.virt.libvirt.driver Deleting instance files <PATH>"
    assert mask_line("INFO x.y src: /10.250.19.102:54106") == "INFO x.y src: /<IP>"


_SHAPES = st.sampled_from([
    "2017-05-16 00:00:39.232", "00:00:39", "[req-3ea4052c-895d-4b64-9e2d-04d64c4d94ab a b - - -]",
    "req-3ea4052c-895d-4b64-9e2d-04d64c4d94ab", "b9000564-fe1a-409b-b8cc-1e88b294cd1d", "blk_-160899",
    "10.250.19.102:54106", "fa:16:3e:2a:b1:00", "/var/lib/nova/instances/x", "GET /v2/a/b/c", "0xdeadbeef",
    "9f86d081884c7d659a2f", "42", "-3.5", " ", "/", "-", ":", ".", "req-", "blk_", "0x", "x86",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_SHAPES, st.text(max_size=8)), max_size=12))
def test_rule_guards_never_change_the_masked_text(parts: list[str]) -> None:
    """The cheap literal-count guards only skip rules that could not have matched."""
    text = "".join(parts)
    unguarded = _SURROGATE.sub("\ufffd", text[: MAX_MASKED_CHARS * 4])
    for pattern, placeholder, _literal, _count in _RULES:
        unguarded = pattern.sub(placeholder, unguarded)
    assert mask_text(text) == unguarded[:MAX_MASKED_CHARS]


def test_register_sized_hex_words_are_masked_whole() -> None:
    # BGL kernel dumps: 8-digit hex registers; a NUM rule alone would leave "<NUM>4c20c" behind.
    assert mask_text("iar 00106570 dear 0034c20c lr:0010d9ac") == "iar <NUM> dear <HEX> lr:<HEX>"
    # words of hex letters only, and shorter mixes, stay words
    assert mask_text("deadbeef defaced e1000e") == "deadbeef defaced e1000e"


def test_repeated_messages_come_from_the_cache_and_long_ones_never_enter_it() -> None:
    message = "Took 12.07 seconds to spawn the instance on 10.0.0.7"
    _mask_cached.cache_clear()
    first, again = mask_text(message), mask_text(message)
    assert first == again == _mask(message) == "Took <NUM> seconds to spawn the instance on <IP>"
    assert _mask_cached.cache_info().hits == 1
    long_message = "lease 10.0.0.7 renewed; " * 40
    assert len(long_message) > MASK_CACHE_CHARS
    assert mask_text(long_message) == _mask(long_message) and "<IP>" in mask_text(long_message)
    assert _mask_cached.cache_info().currsize == 1  # only the short one is kept
