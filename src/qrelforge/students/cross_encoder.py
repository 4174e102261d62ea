"""Cross-encoder: ``[CLS] query [SEP] passage [SEP]`` through one transformer, a classification head per grade.

Any Hugging Face encoder folder is a base (a sentence-transformers folder's transformer is its root); the base's own
query and document prompts, when it names them, are put before the texts. ``train_layers`` tunes only the top blocks
of the encoder (the grade head always trains).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..io.files import read_json_object, write_atomic
from .base import Features, device_of, pad
from .encoders import folder_prompts, train_only_top, weight_files

SETTINGS_FILE = "cross_encoder.json"  # the prompts the texts get


class CrossEncoder:
    kind = "cross-encoder"

    def __init__(self, module: Any, tokenizer: Any, prompts: dict[str, str]) -> None:
        self.module, self.tokenizer, self.prompts = module, tokenizer, prompts
        self.num_grades = module.config.num_labels

    @classmethod
    def from_base(cls, base: str, grades: Sequence[int], device: str, config: Any) -> CrossEncoder:
        """A new grade head on a Hugging Face model folder (any head the base had is replaced)."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        module = AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=len(grades), ignore_mismatched_sizes=True
        )
        tokenizer = AutoTokenizer.from_pretrained(base)
        if module.config.pad_token_id is None:  # decoder-style bases pool their last non-padding token
            module.config.pad_token_id = tokenizer.pad_token_id
        train_only_top(module.base_model, config.train_layers)
        return cls(module.to(device), tokenizer, folder_prompts(base))

    @classmethod
    def weights(cls, folder: Path) -> list[Path]:
        return weight_files(folder) + ([folder / SETTINGS_FILE] if (folder / SETTINGS_FILE).is_file() else [])

    @classmethod
    def load(cls, folder: Path, device: str) -> CrossEncoder:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        settings = Path(folder) / SETTINGS_FILE
        prompts = (
            read_json_object(settings, "a cross-encoder's prompts").get("prompts")
            if settings.is_file()
            else folder_prompts(folder)
        )
        return cls(
            AutoModelForSequenceClassification.from_pretrained(folder).to(device),
            AutoTokenizer.from_pretrained(folder),
            prompts or folder_prompts(folder),
        )

    def encode(self, queries: Sequence[str], docs: Sequence[str], max_length: int) -> list[Features]:
        """Query and passage with segment ids; the longer text (normally the passage) is cut first."""
        encoded = self.tokenizer(
            [self.prompts["query"] + q for q in queries],
            [self.prompts["document"] + d for d in docs],
            truncation="longest_first",
            max_length=max_length,
            return_attention_mask=False,
        )
        return [dict(zip(encoded.keys(), values)) for values in zip(*encoded.values())]

    def length(self, features: Features) -> int:
        return len(features["input_ids"])

    def log_probs(self, features: Sequence[Features]) -> Any:
        import torch

        logits = self.module(**pad(self.tokenizer, features, device_of(self.module))).logits
        return torch.log_softmax(logits.float(), dim=-1)

    def param_groups(self, learning_rate: float, head_learning_rate: float) -> list[dict[str, Any]]:
        """One rate for all: the classification head is a plain layer of the model (``head_learning_rate`` unused)."""
        return [{"params": [p for p in self.module.parameters() if p.requires_grad], "lr": learning_rate}]

    def use_cache(self, fmt: str) -> None:
        """Nothing to cache: this kind reads query and passage together."""

    def save(self, folder: Path) -> None:
        self.module.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        write_atomic(Path(folder) / SETTINGS_FILE, json.dumps({"prompts": self.prompts}, indent=2) + "\n")
