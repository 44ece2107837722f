"""The slow, obviously-right scoring path that the fast one (:class:`~logwatch.core.scorer.Scorer`) is tested against."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from .spec import ModelSpec
from .window import SessionWindow

if TYPE_CHECKING:
    from transformers import GPT2LMHeadModel


def reference_losses(hf_model: GPT2LMHeadModel, spec: ModelSpec, items: Sequence[tuple[str, list[int]]], *,
                     bos_id: int, cont_id: int) -> list[list[float]]:
    """The slow, obviously-right path: re-encode each line's whole window with HF GPT-2.

    Uses the same windowing as :class:`~logwatch.core.scorer.Scorer`, so the two must agree to float precision.
    """
    import torch.nn.functional as F

    windows: dict[str, SessionWindow] = {}
    out = []
    with torch.inference_mode():
        for session, line in items:
            window = windows.setdefault(session, SessionWindow(spec, bos_id, cont_id))
            window.prepare(len(line))
            context = window.tokens()
            ids = torch.tensor([context + line])
            logits = hf_model(ids).logits[0]  # [T, V]
            predict = logits[len(context) - 1 : len(context) - 1 + len(line)]
            out.append(F.cross_entropy(predict.float(), torch.tensor(line), reduction="none").tolist())
            window.append(line)
    return out
