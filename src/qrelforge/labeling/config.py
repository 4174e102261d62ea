"""Settings of labeling on a Ray cluster and of routing (no heavy imports: the CLI derives its flags from these).

>>> RayOptions(address="auto").cpus_per_actor
1
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError

RAY = "ray engine (--engine ray)"  # the CLI's group of these flags
ADAPT = "adaptation (--adapt)"
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


# how a student adapts to its teacher's sample (labeling/adaptation.py, labeling/adapt.py)
ADAPT_METHODS = ("auto", "finetune", "ordinal", "level", "cuts", "none")
SAMPLE_DESIGNS = ("stratified", "random")


@dataclass(frozen=True)
class AdaptConfig:
    """How a student adapts to a teacher's sample of the pairs it labels (``label --adapt``)."""

    adapt_method: str = field(
        default="auto",
        metadata={
            "group": ADAPT,
            "choices": ADAPT_METHODS,
            "help": "auto: finetune where the student can be trained further (a bi- or cross-encoder folder with a "
            "trainable encoder), else ordinal; finetune: the student trained further on the sample, its cuts set "
            "to give the other pairs the sample's teacher grade shares (minutes); ordinal: an ordinal model of the "
            "teacher's grade on the student's expected grade with a shrunk offset per query (seconds); level: each "
            "query's mean gap added; cuts: the temperature and grade cuts refitted; none: the sample keeps the "
            "teacher's grades, the rest the student's",
        },
    )
    adapt_sample: str = field(
        default="stratified",
        metadata={
            "group": ADAPT,
            "choices": SAMPLE_DESIGNS,
            "help": "stratified: each query's share spread over the student's "
            "score range; random: drawn at random within each query",
        },
    )
    adapt_shrinkage: float = field(
        default=2.0,
        metadata={
            "group": ADAPT,
            "help": "how strongly a query's own offset is pulled toward none (in pairs' worth of evidence)",
        },
    )
    adapt_folds: int | None = field(
        default=None,
        metadata={
            "group": ADAPT,
            "help": "folds of the cross-fitted estimate of the adapted labels' agreement with the teacher (default: "
            "10, or 3 with finetune, where each fold is a fine-tune of its own)",
        },
    )
    adapt_epochs: int = field(default=5, metadata={"group": ADAPT, "help": "finetune: passes over the sample"})
    adapt_seed: int = field(default=13, metadata={"group": ADAPT, "help": "seed of the sample and of the estimate"})

    def __post_init__(self) -> None:
        if self.adapt_method not in ADAPT_METHODS or self.adapt_sample not in SAMPLE_DESIGNS:
            raise ConfigError(f"adaptation: method one of {ADAPT_METHODS}, sample one of {SAMPLE_DESIGNS}")
        if (self.adapt_folds is not None and self.adapt_folds < 2) or self.adapt_shrinkage < 0 or self.adapt_epochs < 1:
            raise ConfigError("adaptation: at least 2 folds, a shrinkage of 0 or more, and at least 1 epoch")

    @property
    def folds(self) -> int:
        """The estimate's folds: ``adapt_folds``, else 10 (3 for ``finetune``: each fold trains a student)."""
        return self.adapt_folds or (3 if self.adapt_method == "finetune" else 10)
