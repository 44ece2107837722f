"""A lean GPT-2 forward over HF weights, with a slot pool of per-session KV caches.

Why not ``GPT2LMHeadModel`` at scoring time: batching many sessions whose caches have
different lengths needs per-row positions and masks that HF's cache API makes slow, and
importing transformers costs seconds at start-up. The maths is HF GPT-2's exactly (tested
against it to 1e-4): pre-LN blocks, Conv1D projections (``x @ W + b``), tanh-GELU,
``1/sqrt(head_dim)`` attention scale, tied LM head.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
import torch.nn.functional as F

from .spec import ModelSpec

#: The four projections of every block, which int8 mode quantises (and the LM head).
PROJECTIONS = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")

#: The first block's projections int8 mode quantises too: only its MLP. Its attention input is
#: the raw embeddings, whose outlier channels cost one-scale-per-call int8 the most. Measured on
#: a learned model and 54,000 real OpenStack lines against fp32 (largest line loss difference):
#: first block all fp32 0.029 nats, MLP int8 0.029 (and 2/3 of the block's work quantised),
#: attention output too 0.044, all four 0.151.
FIRST_BLOCK_INT8 = ("mlp.c_fc", "mlp.c_proj")


class Projection:
    """``y = x @ W + b`` with HF Conv1D weights (``W`` is [in, out]), in fp or dynamic int8.

    int8 mode quantises ``W`` per output channel once and lets torch's quantized CPU kernel
    quantise activations per call (dynamic quantisation). Embeddings, layer norms and attention
    stay fp32: they are cheap here and carry most of the precision.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, int8: bool = False) -> None:
        self.out_features = weight.shape[1]
        self._packed = _pack_int8(weight, bias) if int8 else None
        # int8 mode keeps only the packed copy. The float copy is stored [out, in], the layout
        # F.linear takes (one fused addmm): ``x @ W + b`` with W [in, out] was never faster and
        # up to 1.5x slower on the 2-core test machine ([275, 256] x [256, 768]).
        self.weight: torch.Tensor | None = None if int8 else weight.T.contiguous()
        self.bias: torch.Tensor | None = None if int8 else bias

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self._packed is None:
            assert self.weight is not None and self.bias is not None
            return F.linear(x, self.weight, self.bias)
        flat = x.reshape(-1, x.shape[-1])  # [B*L, in]
        # reduce_range=True: x86 kernels accumulate in 16 bits, 7-bit activations avoid overflow
        y: torch.Tensor = torch.ops.quantized.linear_dynamic(flat, self._packed, True)  # [B*L, out]
        return y.view(*x.shape[:-1], self.out_features)


_GELU_K1 = 2 * math.sqrt(2 / math.pi)
_GELU_K2 = _GELU_K1 * 0.044715


def gelu_tanh_(x: torch.Tensor) -> torch.Tensor:
    """GPT-2's tanh GELU, in place: ``0.5 x (1 + tanh(z)) = x * sigmoid(2z)``, the same function.

    torch's own tanh-approximate GELU kernel runs at ~0.5 G elements/s on the 2-core test
    machine; this form takes 0.55-0.75 of its time and differs by float rounding (~5e-7).
    """
    u = x * x
    u.mul_(_GELU_K2).add_(_GELU_K1).mul_(x)  # 2z = 2c (x + 0.044715 x^3)
    return u.sigmoid_().mul_(x)


def int8_available() -> bool:
    """Whether this torch build has the quantized CPU kernels int8 mode needs."""
    engines = getattr(getattr(torch.backends, "quantized", None), "supported_engines", [])
    return any(e != "none" for e in engines) and hasattr(torch.ops.quantized, "linear_dynamic")


def native_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX512-BF16 or AMX), not by emulation."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    try:
        return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)
    except RuntimeError:
        return False


def _pack_int8(weight: torch.Tensor, bias: torch.Tensor) -> object:  # torch's packed-params ScriptObject
    w = weight.float().T.contiguous()  # [out, in] as torch.nn.Linear lays it out
    scale = (w.abs().amax(dim=1) / 127.0).clamp(min=1e-8)  # per output channel
    zero = torch.zeros(w.shape[0], dtype=torch.long)
    with warnings.catch_warnings():
        # torch >= 2.10 marks quantized tensors deprecated in favour of torchao; the kernels
        # still ship in the CPU wheel; without them int8_available() is False and auto runs fp32.
        warnings.simplefilter("ignore")
        q = torch.quantize_per_channel(w, scale.double(), zero, 0, torch.qint8)
    return torch.ops.quantized.linear_prepack(q, bias.float().contiguous())


class KVPool:
    """Preallocated key/value caches, one *slot* per live session, on the model's device.

    Each slot holds a window's ``n_ctx`` positions (about 1 MB per slot for LogGPT-Small in fp32, half in bf16).
    """

    def __init__(self, spec: ModelSpec, device: torch.device, dtype: torch.dtype, slots: int) -> None:
        head_dim = spec.n_embd // spec.n_head
        # [key|value, layer, slot, position, head, head_dim]: a row's new positions are one
        # index_put_ away, and a slot's keys and values are copied out or back in one copy.
        self.kv = torch.zeros((2, spec.n_layer, slots, spec.n_ctx, spec.n_head, head_dim), device=device, dtype=dtype)
        self.keys, self.values = self.kv[0], self.kv[1]  # views: [layer, slot, position, head, head_dim]
        self.slots = slots

    @property
    def nbytes(self) -> int:
        return self.kv.element_size() * self.kv.nelement()


class LeanGPT:
    """Inference-only GPT-2: ``step`` feeds new tokens for a batch of cache slots."""

    def __init__(self, spec: ModelSpec, weights: dict[str, torch.Tensor], device: torch.device,
                 dtype: torch.dtype = torch.float32, int8: bool = False) -> None:
        if int8 and (device.type != "cpu" or dtype != torch.float32):
            raise ValueError("int8 mode is for the CPU with fp32 activations")
        self.spec = spec
        self.device = device
        self.dtype = dtype
        # int8 mode (approximate already) keeps keys and values in bfloat16 where the CPU has it:
        # half the bytes for every cache gather, parked copy and attention read. On a learned
        # model and 54,000 real OpenStack lines, the largest line loss difference from fp32 went
        # 0.046 -> 0.041 nats (the same sessions alert) and the engine ran 9-13% faster.
        self.kv_dtype = torch.bfloat16 if int8 and native_bf16() else dtype
        # int8 mode also takes torch's erf GELU, twice as fast as the tanh form GPT-2 was trained
        # with (0.12 ms against 0.18 for [275, 1024]) and at most 5e-4 from it, far below int8's
        # rounding: on the same lines the largest difference from fp32 stayed 0.041-0.044 nats.
        self._gelu = F.gelu if int8 else gelu_tanh_
        self.n_head = spec.n_head
        self.head_dim = spec.n_embd // spec.n_head

        def w(name: str) -> torch.Tensor:
            return weights[name].to(device=device, dtype=dtype).contiguous()

        self.wte = w("transformer.wte.weight")  # [V, E], also the tied LM head
        # int8 mode runs the LM head in int8 too (per vocabulary row): on a learned model and
        # 54,000 real OpenStack lines the largest line loss difference from fp32 went 0.022 ->
        # 0.031 nats, for the head's 5-7% of the scoring time.
        self._head = Projection(self.wte.T, torch.zeros(spec.vocab_size), int8=True) if int8 else None
        self.wpe = w("transformer.wpe.weight")  # [P, E]
        self.ln_f = (w("transformer.ln_f.weight"), w("transformer.ln_f.bias"))
        self.layers = []
        for i in range(spec.n_layer):
            h = f"transformer.h.{i}."
            # The layer norms' tensors and the projections' modules, by their checkpoint names.
            layer: dict[str, Any] = {name: w(h + name) for name in ("ln_1.weight", "ln_1.bias", "ln_2.weight", "ln_2.bias")}
            for name in PROJECTIONS:
                quantise = int8 and (i > 0 or name in FIRST_BLOCK_INT8)
                layer[name] = Projection(w(h + name + ".weight"), w(h + name + ".bias"), quantise)
            self.layers.append(layer)

    def new_pool(self, slots: int) -> KVPool:
        return KVPool(self.spec, self.device, self.kv_dtype, slots)

    @torch.inference_mode()
    def step(self, pool: KVPool, slots: torch.Tensor, tokens: torch.Tensor, starts: torch.Tensor,
             lengths: torch.Tensor) -> torch.Tensor:
        """Feed ``tokens`` into the caches of ``slots`` and return final hidden states.

        slots   [B]    cache slot of each row
        tokens  [B, L] new token ids, right-padded
        starts  [B]    position of each row's first new token (= tokens already cached)
        lengths [B]    real (unpadded) new tokens per row
        returns [B, L, E] hidden states after ln_f (positions past a row's length are garbage)
        """
        spec = self.spec
        n_embd = spec.n_embd
        batch, new = tokens.shape
        offsets = torch.arange(new, device=self.device)
        positions = starts[:, None] + offsets[None, :]  # [B, L]
        # Rows are packed: projections, GELU and layer norms (most of the work) run on the N real
        # tokens only, [N, E]; only attention sees the padded [B, L] layout.
        real = (offsets[None, :] < lengths[:, None]).reshape(-1).nonzero().squeeze(1)  # [N] into B*L
        token_pos = positions.reshape(-1).index_select(0, real)  # [N]
        token_slot = slots[:, None].expand(batch, new).reshape(-1).index_select(0, real)  # [N]
        x = self.wte[tokens.reshape(-1).index_select(0, real)] + self.wpe[token_pos]  # [N, E]
        # Only the first `cols` positions of any slot matter to this batch: short sessions do not
        # gather and attend over all n_ctx columns. A slot's positions past its own end hold stale
        # values that the mask hides until they are rewritten.
        cols = int((starts + lengths).max())  # <= n_ctx
        key_pos = torch.arange(cols, device=self.device)
        mask = (key_pos[None, None, :] <= positions[:, :, None])[:, None, :, :]  # [B, 1, L, cols]
        padded = torch.zeros((batch * new, n_embd), device=self.device, dtype=x.dtype)  # [B*L, E]
        # Queries are laid out padded in the cache's dtype: only the N real rows are converted.
        q_padded = padded if self.kv_dtype == x.dtype else torch.zeros_like(padded, dtype=self.kv_dtype)

        for layer_no, layer in enumerate(self.layers):
            h = F.layer_norm(x, (n_embd,), layer["ln_1.weight"], layer["ln_1.bias"], 1e-5)
            qkv = layer["attn.c_attn"](h)  # [N, 3E]
            q, k, v = qkv.split(n_embd, dim=1)
            # The new keys and values go straight into the pool, then each row reads its slot's
            # first `cols` positions back: one copy of the context per layer, none written back.
            keys, values = pool.keys[layer_no], pool.values[layer_no]  # [slots, P, H, D]
            keys.index_put_((token_slot, token_pos), k.view(-1, self.n_head, self.head_dim).to(keys.dtype))
            values.index_put_((token_slot, token_pos), v.view(-1, self.n_head, self.head_dim).to(keys.dtype))
            cache_k = keys[:, :cols].index_select(0, slots).transpose(1, 2)  # [B, cols, H, D] -> [B, H, cols, D]
            cache_v = values[:, :cols].index_select(0, slots).transpose(1, 2)
            q_padded.index_copy_(0, real, q.to(q_padded.dtype))
            q_rows = q_padded.view(batch, new, self.n_head, self.head_dim).transpose(1, 2)  # [B, H, L, D]
            attn = F.scaled_dot_product_attention(q_rows, cache_k, cache_v, attn_mask=mask,
                                                  scale=1.0 / math.sqrt(self.head_dim))  # [B, H, L, D]
            attn = attn.transpose(1, 2).reshape(batch * new, n_embd).index_select(0, real).to(x.dtype)  # [N, E]
            x = x + layer["attn.c_proj"](attn)
            h = F.layer_norm(x, (n_embd,), layer["ln_2.weight"], layer["ln_2.bias"], 1e-5)
            h = self._gelu(layer["mlp.c_fc"](h))
            x = x + layer["mlp.c_proj"](h)
        out = F.layer_norm(x, (n_embd,), self.ln_f[0], self.ln_f[1], 1e-5)
        return padded.index_copy_(0, real, out).view(batch, new, n_embd)  # padded rows keep garbage

    @torch.inference_mode()
    def token_losses(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy (nats) of each target given the hidden state before it.

        hidden  [N, E] states that predict the targets; targets [N]; returns [N] fp32.
        The LM head runs only on these N rows, never on the whole context.
        """
        logits = (F.linear(hidden, self.wte) if self._head is None else self._head(hidden)).float()  # [N, V]
        return F.cross_entropy(logits, targets, reduction="none")
