"""Downstream ranker settings: the one source of their defaults (the CLI derives ``rank-eval``'s flags from them).

>>> RankerConfig(kind="lightgbm").steps
300
"""

from __future__ import annotations

from dataclasses import dataclass, field

RANKERS = ("cross-encoder", "bi-encoder", "lightgbm")


@dataclass(frozen=True)
class RankerConfig:
    kind: str = field(default="cross-encoder", metadata={"flag": "--ranker", "choices": RANKERS})
    steps: int = field(
        default=300, metadata={"help": "optimizer steps (lightgbm: boosting rounds), the same for every training set"}
    )
    batch_size: int = 16
    learning_rate: float = field(default=2e-5, metadata={"flag": "--lr", "help": "neural rankers' learning rate"})
    max_length: int = 256
    seed: int = 13
    base: str | None = field(
        default=None,
        metadata={"help": "neural rankers: Hugging Face folder to start from (default: the packaged MiniLM)"},
    )
    feature_model: str | None = field(
        default=None, metadata={"help": "lightgbm: a student folder whose expected grade is a feature"}
    )
