"""spec.json: how a window slides is part of the model, and an older reader refuses what it would misread."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from logwatch.core.spec import MODEL_FORMAT_VERSION, ModelDirError, ModelSpec
from logwatch.core.window import SessionWindow


def test_a_spec_without_slide_keep_stays_version_1_and_keeps_the_old_rule(tmp_path: Path) -> None:
    spec = ModelSpec(vocab_size=100, n_ctx=128, max_line_tokens=48)
    spec.save(tmp_path)
    data = json.loads((tmp_path / "spec.json").read_text())
    assert data["version"] == 1 and "slide_keep" not in data  # older logwatch reads it as before
    loaded = ModelSpec.load(tmp_path)
    assert loaded.slide_keep is None and loaded.keep_tokens == 128 - 1 - 48


def test_slide_keep_is_saved_as_version_2_and_cuts_the_window(tmp_path: Path) -> None:
    spec = ModelSpec(vocab_size=100, n_ctx=32, max_line_tokens=8, slide_keep=7)
    spec.save(tmp_path)
    data = json.loads((tmp_path / "spec.json").read_text())
    assert data["version"] == 2 == MODEL_FORMAT_VERSION and data["slide_keep"] == 7
    loaded = ModelSpec.load(tmp_path)
    assert loaded == replace(spec, version=2) and loaded.keep_tokens == 7
    window = SessionWindow(loaded, 1, 2)
    for i in range(12):
        line = [10 + i] * 6 + [3]
        window.prepare(len(line))
        window.append(line)
    assert window.length <= 1 + 7 + 7 * 4  # slid to one kept line, then grew again
    assert window.tokens()[0] == 2


def test_an_older_reader_would_refuse_version_2(tmp_path: Path) -> None:
    ModelSpec(vocab_size=100, slide_keep=16).save(tmp_path)
    data = json.loads((tmp_path / "spec.json").read_text())
    data["version"] = MODEL_FORMAT_VERSION + 1
    (tmp_path / "spec.json").write_text(json.dumps(data))
    with pytest.raises(ModelDirError, match="newer logwatch"):
        ModelSpec.load(tmp_path)


@pytest.mark.parametrize("keep", [-1, 80, 2.5, True, "32"])
def test_slide_keep_out_of_range_is_refused(keep: object) -> None:
    with pytest.raises(ModelDirError, match="slide_keep must be a whole number from 0 to 79"):
        ModelSpec(vocab_size=100, n_ctx=128, max_line_tokens=48, slide_keep=keep)  # type: ignore[arg-type]


def test_patterns_keep_their_pairs_and_older_files_have_none(tmp_path: Path) -> None:
    from collections import Counter

    from logwatch.core.spec import load_patterns, save_patterns, session_pairs

    pairs = session_pairs([["a", "b", "a", "c"], ["b", "c"], ["lonely"]])
    assert pairs == {("a", "b"), ("b", "a"), ("a", "c"), ("b", "c")}  # within a session, never across
    save_patterns(tmp_path, Counter({"a": 3, "b": 2, "c": 1}), pairs | {("a", "unknown")})
    counts, loaded = load_patterns(tmp_path)
    assert counts == {"a": 3, "b": 2, "c": 1}
    assert loaded == pairs  # a pair whose pattern is not kept is not kept either
    save_patterns(tmp_path, Counter({"a": 1}))  # an older writer: no pairs
    assert load_patterns(tmp_path) == ({"a": 1}, None)
    assert load_patterns(tmp_path / "missing") == (None, None)


@pytest.mark.parametrize("pairs", ["[[0, 1]]", "[[0, 7]]", "[[\"a\", 0]]", "[1, 2]", "{}"])
def test_a_broken_pairs_list_is_a_model_dir_error_or_skipped(tmp_path: Path, pairs: str) -> None:
    from logwatch.core.spec import PATTERNS_FILE, PATTERNS_FORMAT, load_patterns

    (tmp_path / PATTERNS_FILE).write_text(
        f'{{"format": "{PATTERNS_FORMAT}", "version": 1, "patterns": [["a", 1], ["b", 1]], "pairs": {pairs}}}')
    if pairs == "[[0, 1]]":
        assert load_patterns(tmp_path) == ({"a": 1, "b": 1}, frozenset({("a", "b")}))
    elif pairs == "[[\"a\", 0]]":
        assert load_patterns(tmp_path)[1] == frozenset()  # not an index: skipped
    else:
        with pytest.raises(ModelDirError, match="pair"):
            load_patterns(tmp_path)
