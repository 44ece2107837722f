from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from logwatch.core.masking import mask_line
from logwatch.core.tokenizer import LogTokenizer

LINES = [mask_line(f"INFO nova.compute.manager [instance: 0000000{i % 10}-fe1a-409b-b8cc-1e88b294cd1d] "
                   f"Took {i}.5 seconds to spawn the instance") for i in range(200)]
TOK = LogTokenizer.train(LINES * 3, vocab_size=400)


def test_round_trip_and_eol() -> None:
    for line in LINES[:20] + ["héllo wörld \x00 \x1b[2J <NUM>", ""]:
        ids = TOK.encode_lines([line], max_tokens=10_000)[0]
        assert ids[-1] == TOK.eol_id
        assert TOK.decode(ids[:-1]) == line


def test_phrases_compress_and_pieces_cover_the_line() -> None:
    ids = TOK.encode_lines([LINES[5]], max_tokens=64)[0]
    assert len(ids) < 12  # a learned line is a few phrase tokens, not one per word
    pieces = TOK.pieces(LINES[5], max_tokens=64)
    assert "".join(pieces[:-1]) == LINES[5]
    assert len(pieces) == len(ids)


def test_max_tokens_caps_length() -> None:
    ids = TOK.encode_lines(["zq" * 500], max_tokens=16)[0]
    assert len(ids) == 16 and ids[-1] == TOK.eol_id


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_any_text_encodes_and_decodes(text: str) -> None:
    ids, pieces = TOK.encode_with_pieces([text], max_tokens=100_000)[0]
    assert TOK.decode(ids[:-1]) == text
    assert len(pieces) == len(ids)


def test_cached_encodings_equal_fresh_ones_and_the_cache_is_bounded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import logwatch.core.tokenizer as tokenizer_module

    monkeypatch.setattr(tokenizer_module, "ENCODED_CACHE_LINES", 50)
    tok = LogTokenizer.train(LINES * 3, vocab_size=400)
    batch = LINES[:30] * 3 + ["x" * 5_000, LINES[0]]
    first = tok.encode_with_pieces(batch, max_tokens=64)
    again = tok.encode_with_pieces(batch, max_tokens=64)  # served from the cache
    assert first == again
    assert [ids for ids, _ in first] == TOK.encode_lines(batch, max_tokens=64)
    assert first[0] == tok.encode_with_pieces([LINES[0]], max_tokens=64)[0]
    first[0][0].append(99)  # a caller changing its copy changes nothing cached
    assert tok.encode_with_pieces([LINES[0]], max_tokens=64)[0] == again[0]
    assert tok.encode_with_pieces([LINES[0]], max_tokens=8)[0][0] == TOK.encode_lines([LINES[0]], max_tokens=8)[0]
    tok.encode_with_pieces(LINES, max_tokens=64)
    assert len(tok._encoded) <= 50
    assert ("x" * 5_000, 64) not in tok._encoded  # long lines are encoded, not kept



def test_attached_placeholders_end_the_phrase_before_them_and_halve_the_tokens() -> None:
    attached = LogTokenizer.train(LINES * 3, vocab_size=400, attach_placeholders=True)
    line = LINES[5]  # "INFO nova.compute.manager [instance: <UUID>] Took <NUM> seconds to spawn the instance"
    ids, pieces = attached.encode_with_pieces([line], max_tokens=64)[0]
    assert attached.decode(ids[:-1]) == line and "".join(pieces[:-1]) == line
    assert all(piece.count("<") <= 1 for piece in pieces)  # no token spans two placeholders
    # joined to the words before it
    assert any(piece.endswith("<UUID>") and piece[:-len("<UUID>")].strip() for piece in pieces)
    assert any(piece.endswith(" <NUM>") and piece[:-len(" <NUM>")].strip() for piece in pieces)
    assert len(ids) < len(TOK.encode_lines([line], max_tokens=64)[0])  # placeholders apart cost more
    new = mask_line("ERROR nova.compute.manager Instance failed to spawn: disk full at 93%")
    ids = attached.encode_lines([new], max_tokens=64)[0]
    assert attached.decode(ids[:-1]) == new
    # saved and loaded, it splits the same way (the pre-tokenizer is part of tokenizer.json)
    again = LogTokenizer(type(attached._tok).from_str(attached._tok.to_str()))
    assert again.encode_lines([new, line], max_tokens=64) == attached.encode_lines([new, line], max_tokens=64)
