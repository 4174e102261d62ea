"""Settings of the student inference engine (no heavy imports: the CLI shows their defaults).

>>> EngineSettings(precision="int8").chunk_pairs
2048
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError

PRECISIONS = ("auto", "fp32", "bf16", "int8")  # auto: bf16 where measured fast, else fp32
TRAINING_PRECISIONS = tuple(p for p in PRECISIONS if p != "int8")  # int8 is for inference only


@dataclass(frozen=True)
class EngineSettings:
    precision: str = field(
        default="auto",
        metadata={
            "help": "auto: bf16 where measured faster than fp32; int8: dynamic quantization (CPU)",
            "choices": PRECISIONS,
        },
    )
    tokens_per_batch: int | None = field(
        default=None,
        metadata={
            "help": "padded tokens per forward pass (default: 4096 on a CPU, measured best there; on a GPU, measured)"
        },
    )
    chunk_pairs: int = field(
        default=2048, metadata={"help": "pairs tokenized ahead, on a thread, while the previous chunk is scored"}
    )
    threads: int | None = field(
        default=None, metadata={"help": "torch threads (default: one per core; ray: --cpus-per-actor)"}
    )

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision {self.precision!r} is not one of {PRECISIONS}")
        if (self.tokens_per_batch is not None and self.tokens_per_batch < 1) or self.chunk_pairs < 1:
            raise ConfigError("tokens_per_batch and chunk_pairs must be positive")
