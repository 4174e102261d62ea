"""Training settings, kept free of heavy imports so the CLI can show their defaults instantly."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    student: str = "bi-encoder"  # a kind of students/: "bi-encoder" (default) or "cross-encoder"
    base: str | None = None  # a Hugging Face model folder; None = the packaged all-MiniLM-L6-v2
    epochs: int = 1  # the bi-encoder starts from a trained similarity: one pass fits the 1-hour budget on 2 cores
    batch_size: int = 16
    learning_rate: float = 2e-5
    head_learning_rate: float = 1e-2  # the bi-encoder's ordinal head (4 numbers, in cosine units)
    warmup_ratio: float = 0.1
    max_length: int = 256
    val_fraction: float = 0.2
    seed: int = 13
    precision: str = "auto"  # auto = bf16 only where the hardware makes it fast
    max_steps: int | None = None  # stop early (smoke tests, benchmarks)
