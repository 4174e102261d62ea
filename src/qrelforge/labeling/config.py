"""Settings of labeling on a Ray cluster and of routing (no heavy imports: the CLI derives its flags from these).

>>> RayOptions(address="auto").cpus_per_actor
1
"""

from __future__ import annotations

from dataclasses import dataclass, field

RAY = "ray engine (--engine ray)"  # the CLI's group of these flags
ROUTING_SCORES = ("entropy", "margin", "cut")  # how unsure a student is of a pair (labeling/route.py)
DEFAULT_ROUTING = "cut"  # the best of the three on DL20 (benchmarks/RESULTS.md, issue 17)


@dataclass(frozen=True)
class RayOptions:
    address: str | None = field(
        default=None,
        metadata={
            "group": RAY,
            "help": "address of an existing cluster (auto, ray://host:10001, ...); default: start a local one",
        },
    )
    actors: int | None = field(
        default=None,
        metadata={"group": RAY, "help": "model replicas (default: one per --cpus-per-actor CPUs of the cluster)"},
    )
    cpus_per_actor: int = field(default=1, metadata={"group": RAY, "help": "CPUs reserved by each actor (its threads)"})
    gpus_per_actor: float = field(
        default=0, metadata={"group": RAY, "help": "set on GPU clusters; the model then runs on the actor's GPU"}
    )
    batch_pairs: int = field(
        default=1024,
        metadata={"group": RAY, "help": "pairs per Ray batch: the unit that is retried and written as one shard"},
    )
    retries: int = field(
        default=3,
        metadata={
            "group": RAY,
            "help": "times a batch is retried after its actor died (the actor is always restarted)",
        },
    )
