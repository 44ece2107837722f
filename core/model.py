"""The model directory on disk, the device choice, and the HF GPT-2 the weights belong to.

Weights are plain safetensors with HF ``GPT2LMHeadModel`` names, so the same file trains
with transformers and scores with the lean forward in :mod:`logwatch.core.gpt`. Nothing is
ever unpickled: a directory holding only ``pytorch_model.bin`` / ``*.pt`` is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .calibrate import Calibration
from .escape import describe
from .settings import DEVICES, PRECISIONS
from .spec import (
    MAX_WEIGHTS_BYTES,
    SPEC_FILE,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    ModelDirError,
    ModelSpec,
    load_patterns,
    model_file,
    save_patterns,
)
from .tokenizer import LogTokenizer, TokenizerError

if TYPE_CHECKING:
    from transformers import GPT2LMHeadModel

_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")


def default_model_dir() -> Path:
    """The model shipped inside the package (trained on sample_logs/nova_train.log)."""
    return Path(__file__).resolve().parent / "default_model"


def pick_device(requested: str = "auto") -> torch.device:
    """The one place a device is chosen: CUDA, then Apple MPS, then CPU for ``auto``."""
    if requested not in DEVICES:
        raise ModelDirError(f"unknown device {requested!r}; choose one of {', '.join(DEVICES)}")
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ModelDirError("--device cuda asked for, but no CUDA device is available")
    if requested == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ModelDirError("--device mps asked for, but Apple MPS is not available")
    return torch.device(requested)




def set_threads(threads: int | None) -> None:
    """CPU threads for torch; None keeps torch's default (one per physical core).

    The TUI passes cores-1 so the UI and reader threads keep a core: torch's OpenMP workers
    spin while they wait, and sharing every core with them makes everything else stutter.
    """
    if threads is not None and threads > 0 and threads != torch.get_num_threads():
        torch.set_num_threads(threads)


#: How far (nats) a line's int8 loss may be from fp32's for ``auto`` to pick int8.
INT8_TOLERANCE = 0.1
#: The calibration.json detail where learning records that distance on a model's held-out lines.
INT8_CHECK = "int8_max_diff"


def uses_int8(device: torch.device, precision: str = "auto", checked: object = None) -> bool:
    """Whether the projections run in int8: asked for, or ``auto`` on a CPU whose torch has the
    kernels, unless the model's own check (``checked``: the largest int8-vs-fp32 line loss
    difference on its held-out lines, which learning records) is over :data:`INT8_TOLERANCE`.

    Measured on real logs against fp32 (2026-12-01, learned models, 2 cores): Loghub OpenStack
    54,000 lines 1.37x faster, largest per-line loss difference 0.087 nats, the same 28 sessions
    alert; HDFS dev split 145,049 lines, 0.084 nats, the same F1 (0.710). With placeholders
    attached to phrases (fewer tokens to average a line over) learned models reached 0.101 and
    0.127; since the first block's attention projections stay fp32 (:data:`gpt.FIRST_BLOCK_INT8`)
    0.029-0.048, and the per-model check catches a model that still strays.
    """
    if precision == "int8":
        return True
    if precision != "auto" or device.type != "cpu":
        return False
    if isinstance(checked, (int, float)) and not (0.0 <= checked <= INT8_TOLERANCE):  # NaN fails too
        return False
    from .gpt import int8_available

    return int8_available()


def pick_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    """Activation dtype: fp32 on CPU for ``auto`` (exact); bf16 on CUDA (within 0.05 nats, tested).

    ``int8`` keeps fp32 activations (the projections are int8, see :class:`gpt.Projection`) and
    exists only on the CPU, where torch ships the quantized kernels.
    """
    if precision not in PRECISIONS:
        raise ModelDirError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "int8":
        from .gpt import int8_available

        if device.type != "cpu":
            raise ModelDirError(f"--precision int8 runs on the CPU only; on {device.type} use bf16 or fp16")
        if not int8_available():
            raise ModelDirError("--precision int8 needs torch's quantized CPU kernels, which this torch lacks")
        return torch.float32
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def expected_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """Every tensor a model directory must hold, by its HF GPT2LMHeadModel name."""
    e, v, p = spec.n_embd, spec.vocab_size, spec.n_ctx
    shapes: dict[str, tuple[int, ...]] = {
        "transformer.wte.weight": (v, e),
        "transformer.wpe.weight": (p, e),
        "transformer.ln_f.weight": (e,),
        "transformer.ln_f.bias": (e,),
    }
    for i in range(spec.n_layer):
        h = f"transformer.h.{i}."
        shapes |= {
            h + "ln_1.weight": (e,),
            h + "ln_1.bias": (e,),
            h + "attn.c_attn.weight": (e, 3 * e),  # Conv1D: y = x @ W + b
            h + "attn.c_attn.bias": (3 * e,),
            h + "attn.c_proj.weight": (e, e),
            h + "attn.c_proj.bias": (e,),
            h + "ln_2.weight": (e,),
            h + "ln_2.bias": (e,),
            h + "mlp.c_fc.weight": (e, 4 * e),
            h + "mlp.c_fc.bias": (4 * e,),
            h + "mlp.c_proj.weight": (4 * e, e),
            h + "mlp.c_proj.bias": (e,),
        }
    return shapes


@dataclass
class LoadedModel:
    """Everything read from a model directory, validated; weights are fp32 on the CPU."""

    directory: Path
    spec: ModelSpec
    tokenizer: LogTokenizer
    weights: dict[str, torch.Tensor]
    calibration: Calibration | None
    pattern_counts: dict[str, int] | None = None
    """The masked lines of its normal data and how often each occurred (None: not known)."""
    label: str | None = None
    """A name to show instead of the directory's (a model learned from a log, named after it)."""
    pattern_pairs: frozenset[tuple[str, str]] | None = None
    """Which pattern followed which within a session of its normal data (None: not known)."""

    @property
    def patterns(self) -> frozenset[str] | None:
        return None if self.pattern_counts is None else frozenset(self.pattern_counts)

    @property
    def name(self) -> str:
        if self.label is not None:
            return self.label
        if self.directory == default_model_dir():
            return "default (nova sample)"
        return self.directory.name


def save_weights(state: dict[str, torch.Tensor], spec: ModelSpec, directory: Path, *, half: bool = False) -> None:
    """Write the tensors the spec needs (the tied LM head is not stored twice).

    Serialised in memory and written with a plain ``open`` so the file gets the user's umask
    (safetensors' own ``save_file`` creates it 0600), via a temporary name so a crash never
    leaves a half-written model behind.
    """
    from safetensors.torch import save

    shapes = expected_shapes(spec)
    tensors = {}
    for name in shapes:
        tensor = state[name].detach().to("cpu").contiguous()
        tensors[name] = tensor.half() if half else tensor.float()
    data = save(tensors, metadata={"format": "pt", "producer": "logwatch"})
    partial = directory / (WEIGHTS_FILE + ".partial")
    partial.write_bytes(data)
    partial.replace(directory / WEIGHTS_FILE)


def write_model_dir(model: LoadedModel, directory: Path) -> None:
    """Write a model held in memory (a learned one) as a model directory the engine can load."""
    from collections import Counter

    directory.mkdir(parents=True, exist_ok=True)
    model.spec.save(directory)
    model.tokenizer.save(directory / TOKENIZER_FILE)
    save_weights(model.weights, model.spec, directory)
    if model.calibration is not None:
        model.calibration.save(directory)
    if model.pattern_counts is not None:
        save_patterns(directory, Counter(model.pattern_counts), model.pattern_pairs)


def load_model_dir(directory: str | Path | None = None) -> LoadedModel:
    """Read and check a model directory; every problem becomes one clear ModelDirError."""
    path = Path(directory) if directory is not None else default_model_dir()
    try:  # probing raises, not answers False, where a directory on the way may not be searched
        if not path.exists():
            raise ModelDirError(f"model directory not found: {path}")
        if not path.is_dir():
            raise ModelDirError(f"--model must be a directory (got a file: {path})")
        weights_path = path / WEIGHTS_FILE
        weights_found = weights_path.exists()
    except OSError as exc:
        raise ModelDirError(f"cannot open model directory {path}: {exc.strerror or exc}") from None
    if not weights_found:
        pickles = sorted(p.name for p in path.iterdir() if p.suffix in _PICKLE_SUFFIXES)
        if pickles:
            raise ModelDirError(
                f"{path} holds only pickled weights ({', '.join(pickles)}); logwatch never unpickles "
                f"files (they can run code). Convert them to {WEIGHTS_FILE} first."
            )
        raise ModelDirError(f"model directory {path} is missing {WEIGHTS_FILE}")
    for needed in (SPEC_FILE, TOKENIZER_FILE):  # each present, a regular file, of bounded size
        model_file(path / needed)
    model_file(weights_path, limit=MAX_WEIGHTS_BYTES)
    spec = ModelSpec.load(path)
    try:
        tokenizer = LogTokenizer.load(path / TOKENIZER_FILE)
    except TokenizerError as exc:
        raise ModelDirError(str(exc)) from None
    if tokenizer.vocab_size != spec.vocab_size:
        raise ModelDirError(
            f"{path}: tokenizer has {tokenizer.vocab_size} tokens but spec.json says vocab_size {spec.vocab_size}"
        )
    weights = _read_safetensors(weights_path)
    for name, shape in expected_shapes(spec).items():
        if name not in weights:
            raise ModelDirError(f"{weights_path} lacks tensor {name}; is it a logwatch model?")
        if tuple(weights[name].shape) != shape:
            raise ModelDirError(
                f"{weights_path}: tensor {name} has shape {tuple(weights[name].shape)}, spec.json implies {shape}"
            )
    _check_values(weights, expected_shapes(spec), path)
    counts, pairs = load_patterns(path)
    return LoadedModel(path, spec, tokenizer, weights, Calibration.load(path), counts, pattern_pairs=pairs)


#: Largest weight magnitude a model directory may hold. The bundled model's largest is 1.2, and
#: trained GPT-2s stay within tens. Up to this bound nothing a forward computes can overflow fp32
#: or bf16 (3.4e38): layer-normed activations are at most sqrt(n_embd) ~ 90 times a gain, a
#: projection sums at most 4 x 8,192 products, so queries and keys stay under 1e14 and their dot
#: products under 1e32. Past it (1e30, say) int8 packing and the forward make inf and NaN.
MAX_WEIGHT = 1e4


def _check_values(weights: dict[str, torch.Tensor], used: dict[str, tuple[int, ...]], directory: Path) -> None:
    """A ModelDirError naming the first tensor the model uses that holds NaN, an infinity or a
    magnitude past :data:`MAX_WEIGHT` (a diverged or tampered file): it would crash int8 packing
    or make every loss NaN."""
    for name in used:
        tensor = weights[name]
        if not bool(torch.isfinite(tensor).all()):
            raise ModelDirError(f"model {directory}: weight {name} holds NaN or infinite values")
        largest = float(tensor.abs().max()) if tensor.numel() else 0.0
        if largest > MAX_WEIGHT:
            raise ModelDirError(f"model {directory}: weight {name} holds {largest:.3g}, past the ±{MAX_WEIGHT:g} "
                                "a trained model stays within")


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelDirError(f"cannot read {path}: {describe(exc)}") from None
    return {name: tensor.float() for name, tensor in tensors.items()}


def hf_model(spec: ModelSpec, weights: dict[str, torch.Tensor] | None = None) -> GPT2LMHeadModel:
    """The transformers GPT-2 for training and for the reference scorer (imports transformers)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=spec.vocab_size,
        n_positions=spec.n_ctx,
        n_embd=spec.n_embd,
        n_layer=spec.n_layer,
        n_head=spec.n_head,
        activation_function="gelu_pytorch_tanh",  # GPT-2's tanh GELU as one fused kernel (gelu_new: five ops)
        bos_token_id=None,
        eos_token_id=None,
        tie_word_embeddings=True,
    )
    model = GPT2LMHeadModel(config)
    if weights is not None:
        missing, unexpected = model.load_state_dict(weights, strict=False)
        real_missing = [m for m in missing if not m.startswith("lm_head.") and not m.endswith(".attn.bias")]
        if real_missing or unexpected:
            raise ModelDirError(f"weights do not fit the model: missing {real_missing[:3]}, unexpected {unexpected[:3]}")
        model.tie_weights()
    return model
