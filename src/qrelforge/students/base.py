"""What every student model kind provides, and the inference helpers shared by training and labeling.

A kind (``cross_encoder.py``, ``bi_encoder.py``) wraps a torch module and its tokenizer. Training and labeling only
use the ``StudentModel`` protocol, so both score pairs exactly the same way and a new kind is a new class.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import ConfigError
from ..io.files import user_cache_dir, write_atomic
from .config import PRECISIONS

Features = dict[str, list[int]]  # one encoded pair, ready to be padded into a batch


class StudentModel(Protocol):
    kind: str  # the name in qrelforge.json that load_student dispatches on
    module: Any  # the torch.nn.Module that is trained
    num_grades: int

    @classmethod
    def weights(cls, folder: Path) -> list[Path]: ...  # files whose bytes fix the outputs (in the fingerprint)

    def encode(self, queries: Sequence[str], docs: Sequence[str], max_length: int) -> list[Features]: ...

    def length(self, features: Features) -> int: ...  # tokens, for length-grouped batches

    def log_probs(self, features: Sequence[Features]) -> Any: ...  # (n, grades) tensor of log-probabilities

    def param_groups(self, learning_rate: float, head_learning_rate: float) -> list[dict[str, Any]]: ...

    def save(self, folder: Path) -> None: ...

    def use_cache(self, fmt: str) -> None: ...  # keep embeddings on disk in format ``fmt`` (a frozen bi-encoder does)


FORMATS_FILE = "numeric-formats.json"  # in the user cache: each machine's measured bf16 verdict


@functools.cache
def bf16_is_fast(device: str) -> bool:
    """True where bf16 matrix work is measured faster than fp32 (CUDA: where the GPU supports bf16).

    A CPU flag is not enough: without AMX or AVX512-BF16, oneDNN emulates bf16 and a matmul is several times slower.
    The verdict is measured once per machine (CPU model, CPUs, torch version) and kept in the user cache
    (``~/.cache/qrelforge/numeric-formats.json``; delete it to measure again): measured again on a busy machine it
    could flip, and with it the format of ``precision auto``, a student's fingerprint, and so what a rerun reuses.
    """
    import torch

    if device == "cuda":
        return torch.cuda.is_bf16_supported()
    path = user_cache_dir() / FORMATS_FILE
    key = f"{_cpu_model()} | {os.cpu_count()} CPUs | torch {torch.__version__}"
    try:
        known = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        known = {}  # unreadable: measured again and written whole
    if not isinstance(known, dict) or not isinstance(known.get(key), bool):
        known = (known if isinstance(known, dict) else {}) | {key: _bf16_measured_fast()}
        with contextlib.suppress(OSError):  # a read-only home measures each time, as before
            write_atomic(path, json.dumps(known, indent=1, sort_keys=True) + "\n")
    return bool(known[key])


def _bf16_measured_fast() -> bool:
    import torch

    # emulated bf16 is 5-100x slower than fp32 (100x on an AVX2-only EPYC: a 1024 product took 3 s): a small product
    # tells it in well under a second, before the measurement that decides
    if matmul_flops(torch.bfloat16, 256, repeats=2) < matmul_flops(torch.float32, 256, repeats=2) / 4:
        return False
    return matmul_flops(torch.bfloat16, 1024, repeats=3) > 1.3 * matmul_flops(torch.float32, 1024, repeats=3)


def _cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what the platform says."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def matmul_flops(dtype: Any, size: int, repeats: int) -> float:
    """FLOP/s of a ``size`` x ``size`` matrix product in ``dtype`` on the CPU (best of ``repeats``)."""
    import torch

    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b  # warm-up: the first call picks kernels and allocates
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def numeric_format(precision: str, device: str) -> str:
    """Resolve a precision setting (``students/config.py:PRECISIONS``) to the format used: fp32, bf16 or int8."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r} is not one of {PRECISIONS}")
    if precision == "int8" and device != "cpu":
        raise ConfigError("int8 (dynamic quantization) runs on the CPU only; use bf16 or fp32 on a GPU")
    if precision == "auto":
        return "bf16" if bf16_is_fast(device) else "fp32"
    return precision


def autocast(bf16: bool, device: str) -> contextlib.AbstractContextManager:
    import torch

    return torch.autocast(device, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def quiet_transformers() -> None:
    """Keep transformers' own progress bars and load reports out of our output."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


def device_of(module: Any) -> Any:
    return next(module.parameters()).device


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def pad(tokenizer: Any, ids: Sequence[Features], device: Any) -> dict[str, Any]:
    """A batch padded to its longest member (dynamic padding), as tensors on ``device``."""
    return tokenizer.pad(list(ids), return_tensors="pt").to(device)


def temper(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Grade probabilities with their log divided by ``temperature`` and renormalized (1: unchanged)."""
    if temperature == 1.0:
        return probs
    logits = np.log(np.clip(probs, 1e-12, None)) / temperature
    out = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (out / out.sum(axis=1, keepdims=True)).astype(probs.dtype)


def expected_grade(probs: np.ndarray, grades: Sequence[int]) -> np.ndarray:
    """The mean grade under each pair's probabilities."""
    return probs @ np.asarray(grades, dtype=np.float64)


def decide(probs: np.ndarray, grades: Sequence[int], thresholds: Sequence[float]) -> np.ndarray:
    """Grade per pair: the expected grade cut at the tuned thresholds (one fewer than there are grades)."""
    return np.asarray(grades)[np.searchsorted(np.asarray(thresholds), expected_grade(probs, grades), side="right")]
