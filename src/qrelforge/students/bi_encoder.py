"""Bi-encoder with an ordinal head: the base's own query–passage cosine similarity, mapped to grades.

all-MiniLM-L6-v2 was trained as a sentence embedder on about a billion pairs (MS MARCO among them), so the cosine of
its mean-pooled embeddings is already a relevance score. This kind keeps that score and fine-tunes it, instead of
learning a cross-encoder head from scratch on a few dozen queries. The head is a cumulative-link (ordinal logistic)
model on the cosine: P(grade >= k) = sigmoid(scale * (cosine - cut_k)) with increasing cuts, so the expected grade
rises with the cosine and the grades stay ordered. See benchmarks/RESULTS.md (issue 3) for why this is the default.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..io.files import write_atomic
from .base import Features, device_of, pad

HEAD_FILE = "ordinal_head.json"


def ordinal_head(num_grades: int) -> Any:
    """Scale and increasing cuts (in cosine units) of a cumulative-link head; starts near MiniLM's cosine range."""
    import torch

    class OrdinalHead(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.log_scale = torch.nn.Parameter(torch.tensor(3.0))  # scale e^3 = 20 per unit of cosine
            self.first_cut = torch.nn.Parameter(torch.tensor(0.3))
            self.log_gaps = torch.nn.Parameter(torch.full((num_grades - 2,), -1.5))  # softplus(-1.5) = 0.2

        def cuts(self) -> Any:
            gaps = torch.nn.functional.softplus(self.log_gaps)
            return torch.cat([self.first_cut.view(1), self.first_cut + torch.cumsum(gaps, 0)])

        def forward(self, cosine: Any) -> Any:
            at_least = torch.sigmoid(self.log_scale.exp() * (cosine[:, None] - self.cuts()[None]))
            ones, zeros = torch.ones_like(at_least[:, :1]), torch.zeros_like(at_least[:, :1])
            bounds = torch.cat([ones, at_least, zeros], dim=1)  # P(grade >= k) for k = 0 .. num_grades
            return torch.log((bounds[:, :-1] - bounds[:, 1:]).clamp_min(1e-7))

    return OrdinalHead()


class BiEncoder:
    kind = "bi-encoder"

    def __init__(self, encoder: Any, head: Any, tokenizer: Any) -> None:
        import torch

        self.module = torch.nn.ModuleDict({"encoder": encoder, "head": head})
        self.tokenizer = tokenizer
        self.num_grades = len(head.cuts()) + 1

    @classmethod
    def from_base(cls, base: str, grades: Sequence[int], device: str, config: Any) -> BiEncoder:
        """A sentence-embedding model folder (mean pooling, as sentence-transformers' MiniLM and MPNet use)."""
        from transformers import AutoModel, AutoTokenizer

        return cls(AutoModel.from_pretrained(base).to(device), ordinal_head(len(grades)).to(device),
                   AutoTokenizer.from_pretrained(base))

    @classmethod
    def weights(cls, folder: Path) -> list[Path]:
        return [folder / "model.safetensors", folder / HEAD_FILE]

    @classmethod
    def load(cls, folder: Path, device: str) -> BiEncoder:
        import torch
        from transformers import AutoModel, AutoTokenizer

        state = json.loads((Path(folder) / HEAD_FILE).read_text(encoding="utf-8"))
        head = ordinal_head(len(state["log_gaps"]) + 2)
        head.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
        return cls(AutoModel.from_pretrained(folder).to(device), head.to(device), AutoTokenizer.from_pretrained(folder))

    def encode(self, queries: Sequence[str], docs: Sequence[str], max_length: int) -> list[Features]:
        """Query and passage tokenized apart, each cut at ``max_length`` tokens."""
        q = self.tokenizer(list(queries), truncation=True, max_length=max_length, return_attention_mask=False)
        d = self.tokenizer(list(docs), truncation=True, max_length=max_length, return_attention_mask=False)
        return [{"query_ids": a, "doc_ids": b} for a, b in zip(q["input_ids"], d["input_ids"])]

    def length(self, features: Features) -> int:
        return len(features["doc_ids"])

    def log_probs(self, features: Sequence[Features]) -> Any:
        """Each distinct query of the batch is embedded once."""
        distinct = {tuple(f["query_ids"]): None for f in features}
        row = {ids: i for i, ids in enumerate(distinct)}
        queries = self.embed([list(ids) for ids in distinct])
        docs = self.embed([f["doc_ids"] for f in features])
        cosine = (queries[[row[tuple(f["query_ids"])] for f in features]] * docs).sum(-1)
        return self.module["head"](cosine.float())

    def embed(self, ids: Sequence[list[int]]) -> Any:
        """Mean-pooled, L2-normalized embeddings of token id lists."""
        import torch

        batch = pad(self.tokenizer, [{"input_ids": x} for x in ids], device_of(self.module))
        hidden = self.module["encoder"](**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)

    def param_groups(self, learning_rate: float, head_learning_rate: float) -> list[dict[str, Any]]:
        return [{"params": list(self.module["encoder"].parameters()), "lr": learning_rate},
                {"params": list(self.module["head"].parameters()), "lr": head_learning_rate}]

    def save(self, folder: Path) -> None:
        self.module["encoder"].save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        state = {k: v.tolist() for k, v in self.module["head"].state_dict().items()}
        write_atomic(Path(folder) / HEAD_FILE, json.dumps(state, indent=2) + "\n")
