"""Downstream ranker settings, kept free of heavy imports so the CLI can show their defaults instantly."""
from __future__ import annotations

from dataclasses import dataclass

RANKERS = ("cross-encoder", "bi-encoder", "lightgbm")


@dataclass(frozen=True)
class RankerConfig:
    kind: str = "cross-encoder"
    steps: int = 300  # optimizer steps (neural) or boosting rounds (lightgbm), the same for every training set
    batch_size: int = 16
    learning_rate: float = 2e-5
    max_length: int = 256
    seed: int = 13
    base: str | None = None  # neural: a Hugging Face folder; None = the packaged all-MiniLM-L6-v2
    feature_model: str | None = None  # lightgbm: a student folder whose expected grade is one more feature
