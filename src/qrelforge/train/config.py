"""Training settings, kept free of heavy imports so the CLI can show their defaults instantly."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    student: str = "bi-encoder"  # a kind of students/: "bi-encoder" (default), "cross-encoder" or "causal-lm"
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
    max_minutes: float | None = None  # stop training after this long (equal wall-clock budgets)
    grad_accumulation: int = 1  # batches per optimizer step
    soft_targets: bool = False  # learn the teacher's grade probabilities (where it gave them) instead of its grades
    # causal-lm only: the judge prompt it answers, and its LoRA adapters
    template: str = "rubric"  # a bundled prompt template or a template file
    guidelines: str = ""  # assessor guidelines, written into every prompt
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    gradient_checkpointing: bool = False
    merge_lora: bool = False  # save the base with the adapter folded in (loads without the base), not the adapter
