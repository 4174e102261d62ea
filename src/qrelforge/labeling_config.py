"""Settings of the student labeling engines, local and Ray (no heavy imports: the CLI shows their defaults)."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError

PRECISIONS = ("auto", "fp32", "bf16", "int8")  # int8 is for inference only


@dataclass(frozen=True)
class EngineSettings:
    precision: str = "auto"  # auto | fp32 | bf16 | int8
    tokens_per_batch: int = 4096  # padded tokens in one forward pass (measured best here: see RESULTS.md)
    chunk_pairs: int = 2048  # pairs tokenized ahead, on a thread, while the previous chunk is scored
    threads: int | None = None  # torch intra-op threads; None keeps torch's default (one per core)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision {self.precision!r} is not one of {PRECISIONS}")
        if self.tokens_per_batch < 1 or self.chunk_pairs < 1:
            raise ConfigError("tokens_per_batch and chunk_pairs must be positive")


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # an existing cluster ("auto", "ray://host:10001", ...); None starts a local one
    actors: int | None = None  # model replicas; None: one per ``cpus_per_actor`` CPUs of the cluster
    cpus_per_actor: int = 1  # CPUs reserved by each actor (its torch threads)
    gpus_per_actor: float = 0  # set on GPU clusters; the model then runs on the actor's GPU
    batch_pairs: int = 1024  # pairs per Ray batch: the unit that is retried and written as one shard
    retries: int = 3  # times a batch is retried after its actor died (the actor is always restarted)
