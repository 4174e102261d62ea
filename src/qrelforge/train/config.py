"""Training settings: the one source of their defaults. The CLI derives its ``train`` flags from these fields
(``cli/flags.py``), and a pipeline YAML's ``train:`` section is checked against them. No heavy imports.

>>> TrainConfig(student="cross-encoder").epochs
1
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..students.config import TRAINING_PRECISIONS

CAUSAL = "causal-lm students (LoRA)"  # the CLI's group of the settings only that kind reads


@dataclass(frozen=True)
class TrainConfig:
    student: str = field(default="bi-encoder", metadata={"help": "model kind: bi-encoder, cross-encoder or causal-lm"})
    base: str | None = field(
        default=None,
        metadata={
            "help": "the model to start from: a Hugging Face or sentence-transformers folder, or a model hub id "
            "such as google/embeddinggemma-300m where a hub is reachable (default: the packaged "
            "all-MiniLM-L6-v2)"
        },
    )
    # the bi-encoder starts from a trained similarity: one pass fits the 1-hour budget on 2 cores
    epochs: int = field(default=1, metadata={"help": "passes over the training pairs"})
    batch_size: int = 16
    learning_rate: float = field(default=2e-5, metadata={"flag": "--lr", "help": "the encoder's learning rate"})
    head_learning_rate: float = field(
        default=1e-2, metadata={"help": "the bi-encoder's ordinal head (4 numbers, in cosine units)"}
    )
    warmup_ratio: float = field(default=0.1, metadata={"help": "share of the steps spent warming up the rate"})
    train_layers: int | None = field(
        default=None,
        metadata={
            "help": "encoder kinds: tune only the top N transformer blocks (0: a frozen encoder, only the head learns; "
            "its embeddings are cached on disk; default: all)"
        },
    )
    max_length: int = field(
        default=256, metadata={"help": "tokens per text (cross-encoder: per pair, the document cut first)"}
    )
    val_fraction: float = field(default=0.2, metadata={"help": "share of queries held out for validation"})
    seed: int = 13
    precision: str = field(
        default="auto",
        metadata={"help": "auto: bf16 only where the hardware makes it fast", "choices": TRAINING_PRECISIONS},
    )
    max_steps: int | None = field(default=None, metadata={"help": "stop after this many optimizer steps"})
    max_minutes: float | None = field(default=None, metadata={"help": "stop training after this many minutes"})
    grad_accumulation: int = field(default=1, metadata={"help": "batches per optimizer step"})
    checkpoint_minutes: float | None = field(
        default=1.0,
        metadata={
            "help": "save a resumable checkpoint beside the output at most this often; a killed run resumes there "
            "(None: never)"
        },
    )
    soft_targets: bool = field(
        default=False,
        metadata={"help": 'learn the teacher\'s grade probabilities (JSONL "probs") instead of its grades'},
    )
    pairwise: float = field(
        default=0.0,
        metadata={
            "help": "weight of a within-query pairwise term (RankNet on the expected grade): the student also "
            "learns the teacher's order of each query's pairs; batches then hold a few queries each"
        },
    )
    # causal-lm only: the judge prompt it answers, and its LoRA adapters
    template: str = field(
        default="rubric",
        metadata={"group": CAUSAL, "help": "judge prompt: a bundled template (rubric, umbrela) or a template file"},
    )
    guidelines: str = field(
        default="", metadata={"group": CAUSAL, "file": True, "help": "a file of assessor guidelines for every prompt"}
    )
    lora_rank: int = field(default=16, metadata={"group": CAUSAL})
    lora_alpha: int = field(default=32, metadata={"group": CAUSAL})
    lora_dropout: float = field(default=0.05, metadata={"group": CAUSAL})
    lora_targets: tuple[str, ...] = field(
        default=("q_proj", "k_proj", "v_proj", "o_proj"),
        metadata={"group": CAUSAL, "help": "comma-separated module names"},
    )
    gradient_checkpointing: bool = field(
        default=False, metadata={"group": CAUSAL, "help": "recompute activations: less memory"}
    )
    merge_lora: bool = field(
        default=False,
        metadata={
            "group": CAUSAL,
            "help": "save the base with the adapter folded in (a whole model that loads without the "
            "base) instead of the adapter alone",
        },
    )
