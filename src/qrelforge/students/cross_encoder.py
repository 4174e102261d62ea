"""Cross-encoder: ``[CLS] query [SEP] passage [SEP]`` through one transformer, a classification head per grade."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .base import Features, device_of, pad


class CrossEncoder:
    kind = "cross-encoder"

    def __init__(self, module: Any, tokenizer: Any) -> None:
        self.module, self.tokenizer = module, tokenizer
        self.num_grades = module.config.num_labels

    @classmethod
    def from_base(cls, base: str, grades: Sequence[int], device: str, config: Any) -> CrossEncoder:
        """A new grade head on a Hugging Face model folder (any head the base had is replaced)."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        module = AutoModelForSequenceClassification.from_pretrained(base, num_labels=len(grades),
                                                                    ignore_mismatched_sizes=True)
        return cls(module.to(device), AutoTokenizer.from_pretrained(base))

    @classmethod
    def weights(cls, folder: Path) -> list[Path]:
        return [folder / "model.safetensors"]

    @classmethod
    def load(cls, folder: Path, device: str) -> CrossEncoder:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        return cls(AutoModelForSequenceClassification.from_pretrained(folder).to(device),
                   AutoTokenizer.from_pretrained(folder))

    def encode(self, queries: Sequence[str], docs: Sequence[str], max_length: int) -> list[Features]:
        """Query and passage with segment ids; the longer text (normally the passage) is cut first."""
        encoded = self.tokenizer(list(queries), list(docs), truncation="longest_first", max_length=max_length,
                                 return_attention_mask=False)
        return [dict(zip(encoded.keys(), values)) for values in zip(*encoded.values())]

    def length(self, features: Features) -> int:
        return len(features["input_ids"])

    def log_probs(self, features: Sequence[Features]) -> Any:
        import torch

        logits = self.module(**pad(self.tokenizer, features, device_of(self.module))).logits
        return torch.log_softmax(logits.float(), dim=-1)

    def param_groups(self, learning_rate: float, head_learning_rate: float) -> list[dict[str, Any]]:
        """One rate for all: the classification head is a plain layer of the model (``head_learning_rate`` unused)."""
        return [{"params": list(self.module.parameters()), "lr": learning_rate}]

    def save(self, folder: Path) -> None:
        self.module.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
