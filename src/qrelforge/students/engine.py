"""The student inference engine: score many pairs near the hardware's limit, the same way everywhere.

Pairs are tokenized in chunks on a helper thread (the fast tokenizers release the GIL) while the previous chunk is
scored; inside a chunk they are sorted by length and cut into batches by a budget of padded tokens, so short pairs go
in large batches and long ones in small, with little padding. No gradient state is kept. The numeric format is
``fp32``, ``bf16`` (autocast, chosen by ``auto`` only where a measured bf16 matmul beats fp32) or ``int8`` (dynamic
quantization of the linear layers, CPU only). Output order and values do not depend on the batching, up to float
rounding. The student judge (``students/student.py``) calls ``score_texts``, in this process or on a Ray actor.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .base import Features, StudentModel, autocast, bf16_is_fast, device_of
from .config import EngineSettings

CPU_TOKENS_PER_BATCH = 4096  # measured best on 2 CPU cores for MiniLM (benchmarks/RESULTS.md, issue 6)
GPU_BUDGETS = (4096, 16384, 65536)  # a GPU's budget is chosen among these by measurement


def prepare(model: StudentModel, fmt: str) -> None:
    """Put a loaded model in inference state for ``fmt``: eval mode, int8 linear layers for ``int8``, and the
    embedding cache of a kind that keeps one (a frozen bi-encoder)."""
    import torch

    model.module.eval()
    model.use_cache(fmt)
    if fmt == "int8":  # per-channel weight scales: one outlier weight does not coarsen a whole matrix
        quantization = torch.ao.quantization
        quantization.quantize_dynamic(
            model.module, {torch.nn.Linear: quantization.per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
        )


def length_batches(lengths: Sequence[int], tokens_per_batch: int) -> list[list[int]]:
    """Indices sorted by length, cut so that each batch's padded size (members x longest) fits the budget.

    A single pair longer than the budget still gets a batch of its own.
    """
    batches: list[list[int]] = []
    batch: list[int] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if batch and (len(batch) + 1) * lengths[i] > tokens_per_batch:
            batches.append(batch)
            batch = []
        batch.append(i)
    return batches + [batch] if batch else batches


def predict_probs(model: StudentModel, features: Sequence[Features], tokens_per_batch: int, bf16: bool) -> np.ndarray:
    """Grade probabilities per encoded pair, in input order, from length-sorted token-budget batches."""
    import torch

    out = np.zeros((len(features), model.num_grades), dtype=np.float32)
    lengths = [model.length(f) for f in features]
    with torch.inference_mode(), autocast(bf16, device_of(model.module).type):
        for batch in length_batches(lengths, tokens_per_batch):
            out[batch] = model.log_probs([features[i] for i in batch]).float().exp().cpu().numpy()
    return out


def measured_budget(
    model: StudentModel, features: Sequence[Features], bf16: bool, candidates: Sequence[int] = GPU_BUDGETS
) -> int:
    """The token budget of the candidates that scores a sample of ``features`` fastest (after one warm-up run)."""
    import time

    sample = list(features[:256])
    best, budget = float("inf"), candidates[0]
    for tokens in candidates:
        predict_probs(model, sample[:8], tokens, bf16)  # warm-up: kernels, allocator
        start = time.perf_counter()
        predict_probs(model, sample, tokens, bf16)
        if (seconds := time.perf_counter() - start) < best:
            best, budget = seconds, tokens
    return budget


def score_texts(
    model: StudentModel,
    queries: Sequence[str],
    docs: Sequence[str],
    max_length: int,
    settings: EngineSettings,
    fmt: str,
) -> np.ndarray:
    """Grade probabilities of (query, doc) text pairs; the next chunk is tokenized while this one is scored.

    Without a ``tokens_per_batch`` the budget is CPU_TOKENS_PER_BATCH on a CPU and measured on a GPU.
    """
    import torch

    if settings.threads:
        torch.set_num_threads(settings.threads)
    size, budget = settings.chunk_pairs, settings.tokens_per_batch
    chunks = [(queries[i : i + size], docs[i : i + size]) for i in range(0, len(queries), size)]
    if not chunks:
        return np.zeros((0, model.num_grades), dtype=np.float32)
    parts = []
    with ThreadPoolExecutor(max_workers=1) as tokenizer:
        pending = tokenizer.submit(model.encode, *chunks[0], max_length)
        for k in range(len(chunks)):
            features = pending.result()
            if k + 1 < len(chunks):
                pending = tokenizer.submit(model.encode, *chunks[k + 1], max_length)
            if budget is None:
                on_cpu = device_of(model.module).type == "cpu"
                budget = CPU_TOKENS_PER_BATCH if on_cpu else measured_budget(model, features, fmt == "bf16")
            parts.append(predict_probs(model, features, budget, fmt == "bf16"))
    return np.concatenate(parts)


def hardware() -> dict[str, Any]:
    """The machine a measurement came from: CPU model, cores, torch threads, GPU, and whether bf16 is fast."""
    import platform

    import torch

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        names = [
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo", encoding="utf-8")
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name() if device == "cuda" else None,
        "bf16_fast": bf16_is_fast(device),
        "torch": torch.__version__,
    }
