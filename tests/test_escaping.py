"""Everything logwatch says on a terminal goes through one escaping function (core/escape.py).

A file name, a session key, an option value or an exception's text that holds an escape
sequence (``\\e]2;PWNED\\a`` sets a terminal's title) reached stderr raw in ``score``'s
messages, and a toast of the monitor. These check the function itself (any text) and the
paths that went around it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logwatch.core.escape import WIDEST_ESCAPE, describe, printable

#: The title-setting sequence of the issue, in a file name.
PWNED = "\x1b]2;PWNED\x07"
#: Bidi marks, embeddings, overrides and isolates: text that reads backwards on screen.
BIDI = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def unsafe(char: str) -> bool:
    """Defined from Unicode's own categories, not from the regex under test."""
    return unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") or ord(char) in BIDI


ANY_TEXT = st.one_of(
    st.text(st.characters(codec=None, exclude_categories=()), max_size=200),
    st.lists(st.sampled_from([PWNED, "\x9b2J", "\u202e", "\u2028", "\ud800", "\t", "\n", "\x7f", "é", "[/]", "x"]),
             max_size=40).map("".join))


@settings(max_examples=300, deadline=None)
@given(text=ANY_TEXT, limit=st.integers(0, 300))
def test_printable_leaves_no_control_or_bidi_character_and_is_bounded(text: str, limit: int) -> None:
    out = printable(text, limit)
    assert not any(unsafe(c) for c in out), ascii(out)
    assert len(out) <= WIDEST_ESCAPE * limit + 1
    out.encode("utf-8")  # writable to any UTF-8 terminal (no lone surrogate)
    if len(text) <= limit and not any(unsafe(c) for c in text):
        assert out == text  # safe text is shown as it is


def test_escapes_are_visible_and_say_which_character() -> None:
    assert printable(PWNED + ".log") == "\\x1b]2;PWNED\\x07.log"
    assert printable("a\u202eb\tc\udcff") == "a\\u202eb\\tc\\udcff"


def test_exceptions_are_described_in_words_not_reprs(tmp_path: Path) -> None:
    try:
        (tmp_path / "gone.log").open()
    except OSError as exc:
        said = describe(exc)
    assert said == f"No such file or directory: {tmp_path / 'gone.log'}"
    assert describe(OSError(13, "Permission denied", tmp_path)) == f"Permission denied: {tmp_path}"
    assert "PosixPath" not in describe(ValueError(f"bad {tmp_path}")) and describe(RuntimeError()) == "unexpected RuntimeError"


def _logwatch(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "logwatch.cli.main", *args], capture_output=True, timeout=120,
                          check=False, cwd=cwd)


def _no_raw_controls(err: bytes) -> str:
    text = err.decode("utf-8", "surrogateescape")
    assert "Traceback" not in text, text
    assert not any(unsafe(c) for c in text.replace("\n", "")), ascii(text)
    return text


def test_score_never_writes_a_file_names_escape_sequence_to_stderr(tmp_path: Path, tiny_model_dir: Path) -> None:
    logs = tmp_path / "d"
    logs.mkdir()
    (logs / "ok.log").write_text("INFO nova.compute plain line\n")
    os.symlink(tmp_path / "nowhere", logs / f"{PWNED}.log")  # matched by the glob, cannot be read
    model = ["--model", str(tiny_model_dir), "--learn", "off"]
    for args in (["score", "d/*.log", *model], ["score", f"{PWNED}.log", *model],
                 ["marks", PWNED], ["score", f"--{PWNED}"], ["score", "--device", PWNED, "x.log"]):
        result = _logwatch(*args, cwd=tmp_path)
        err = _no_raw_controls(result.stderr)
        assert result.returncode == 2, err
        assert len([line for line in err.splitlines() if line]) <= 3, err  # click's have a usage line and a hint
    assert "\\x1b]2;PWNED\\x07.log" in _no_raw_controls(_logwatch("score", "d/*.log", *model, cwd=tmp_path).stderr)


def test_a_message_is_one_line_whatever_the_name_holds(tmp_path: Path) -> None:
    result = _logwatch("score", "--learn", "off", "a\nlogwatch: forged line\r.log", cwd=tmp_path)
    err = _no_raw_controls(result.stderr)
    assert result.returncode == 2 and err.count("\n") == 1 and "\\x0alogwatch: forged line\\x0d" in err


@pytest.mark.parametrize("message", [f"no such file: d/{PWNED}.log", "bad\u202etxt.gol", "a\x9b2Jb"])
def test_say_escapes_every_logwatch_line(message: str, capsys: pytest.CaptureFixture[str]) -> None:
    from logwatch.cli.common import LogwatchError, say

    say(message)
    LogwatchError(message).show()
    err = capsys.readouterr().err
    assert err.count("\nlogwatch: ") == 1 and err.startswith("logwatch: ")
    assert not any(unsafe(c) for c in err.replace("\n", ""))
