"""A small byte-level BPE trained on masked log lines (HF ``tokenizers``).

Byte-level means no out-of-vocabulary input: any byte sequence encodes. The vocabulary is
small (~4k by default) because the LM head's cost grows with it and masked logs repeat a
few hundred words. The sequence markers are added tokens, so each is always one token.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from .escape import describe
from .masking import PLACEHOLDERS

PAD = "<|pad|>"
BOS = "<|bos|>"
"""Starts a window that starts at the beginning of a session."""
CONT = "<|cont|>"
"""Starts a window that continues a session whose earlier lines slid out of the context."""
EOL = "<|eol|>"
"""Ends every line, so the model also learns (and is scored on) where a line stops."""
SPECIAL_TOKENS: tuple[str, ...] = (PAD, BOS, CONT, EOL)
#: Masked lines whose encoding is kept: masked logs repeat a few hundred lines, so most of
#: a batch is encoded already. Only lines of at most ENCODED_CACHE_CHARS are kept, so the
#: cache stays under ~40 MB whatever the log holds.
ENCODED_CACHE_LINES = 20_000
ENCODED_CACHE_CHARS = 1_000


class TokenizerError(ValueError):
    """A tokenizer file that cannot be used; the message is shown to the user."""


class LogTokenizer:
    """Encodes masked lines to ids and back to readable pieces for explanations."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tok = tokenizer
        ids = [tokenizer.token_to_id(token) for token in SPECIAL_TOKENS]
        if any(i is None for i in ids):
            raise TokenizerError("tokenizer.json lacks logwatch's special tokens; was it made by `logwatch train`?")
        self.pad_id, self.bos_id, self.cont_id, self.eol_id = (int(i) for i in ids)  # type: ignore[arg-type]
        self._encoded: OrderedDict[tuple[str, int], tuple[tuple[int, ...], tuple[str, ...]]] = OrderedDict()

    @classmethod
    def train(cls, masked_lines: Iterable[str], *, vocab_size: int = 4096, min_frequency: int = 2,
              attach_placeholders: bool = False) -> LogTokenizer:
        """A byte-level BPE learned on masked lines.

        Words are the stretches between placeholders, not GPT-2's regex words: masked log lines
        repeat so much that BPE then learns whole phrases ("INFO nova.compute.manager [<REQ>]").
        Measured on OpenStack: 10.5 tokens per line instead of 36; on HDFS 6.2 instead of 19.5.
        Fewer tokens per line means a cheaper line and more lines of context in the 128-token
        window. Each placeholder (with the space before it) is a word of its own, or, with
        ``attach_placeholders``, ends the word before it (``" len: <NUM>"``): real OpenStack
        lines then cost 5.5 tokens instead of 10, HDFS lines 4 instead of 6.6. Merges never span
        two placeholders' phrases, which kept detection as it was (a tokenizer whose tokens are
        whole lines cost the HDFS split 0.06-0.13 F1).
        """
        tokenizer = Tokenizer(models.BPE())
        placeholder = "|".join(re.escape(p) for p in PLACEHOLDERS)
        behavior = "merged_with_previous" if attach_placeholders else "isolated"
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(f" ?(?:{placeholder})"), behavior=behavior),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tokenizer.train_from_iterator(masked_lines, trainer=trainer)
        return cls(tokenizer)

    @classmethod
    def load(cls, path: str | Path) -> LogTokenizer:
        try:
            return cls(Tokenizer.from_file(str(path)))
        except TokenizerError:
            raise
        except Exception as exc:  # noqa: BLE001 - tokenizers raises plain Exception subclasses for bad JSON
            raise TokenizerError(f"cannot read tokenizer {path}: {describe(exc)}") from None

    def save(self, path: str | Path) -> None:
        self._tok.save(str(path))

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def encode_lines(self, masked: Sequence[str], *, max_tokens: int) -> list[list[int]]:
        """Token ids of each line followed by EOL, cut to ``max_tokens`` ids in all."""
        encodings = self._tok.encode_batch(list(masked), add_special_tokens=False)
        return [enc.ids[: max_tokens - 1] + [self.eol_id] for enc in encodings]

    def encode_with_pieces(self, masked: Sequence[str], *, max_tokens: int) -> list[tuple[list[int], list[str]]]:
        """Like :meth:`encode_lines`, plus the readable text of each token (EOL shown as ⏎).

        Lines encoded recently are served from a bounded cache; the rest go to the tokenizer
        in one batch, each distinct line once.
        """
        cache = self._encoded
        fresh: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {}
        todo = list(dict.fromkeys(text for text in masked if (text, max_tokens) not in cache))
        for text, enc in zip(todo, self._tok.encode_batch(todo, add_special_tokens=False)):
            pieces: list[str] = []
            done = 0
            for start, end in enc.offsets[: max_tokens - 1]:
                # Bytes of one multi-byte character can be split over tokens that share its
                # offsets: show the character once, on the first of them.
                pieces.append(text[max(start, done) : end])
                done = max(done, end)
            fresh[text] = ((*enc.ids[: max_tokens - 1], self.eol_id), (*pieces, "⏎"))
        out = []
        for text in masked:
            got = fresh.get(text)
            if got is None:
                got = cache[(text, max_tokens)]
                cache.move_to_end((text, max_tokens))
            out.append((list(got[0]), list(got[1])))
        for text, got in fresh.items():
            if len(text) <= ENCODED_CACHE_CHARS:
                cache[(text, max_tokens)] = got
        while len(cache) > ENCODED_CACHE_LINES:
            cache.popitem(last=False)
        return out

    def vocab(self) -> dict[str, int]:
        """Token string (byte-level alphabet) -> id, markers included."""
        return dict(self._tok.get_vocab(with_added_tokens=True))

    def encode_text(self, text: str) -> list[int]:
        """Ids of a piece of text, no EOL, no markers (for moving embeddings between tokenizers)."""
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def pieces(self, masked: str, *, max_tokens: int) -> list[str]:
        """Readable text of each token of one line, as :meth:`encode_lines` splits it."""
        return self.encode_with_pieces([masked], max_tokens=max_tokens)[0][1]

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)
