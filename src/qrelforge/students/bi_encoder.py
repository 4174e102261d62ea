"""Bi-encoder with an ordinal head: the base's own query–passage cosine similarity, mapped to grades.

A sentence embedder (all-MiniLM-L6-v2 by default, EmbeddingGemma or any sentence-transformers folder) already scores
relevance with the cosine of its query and passage embeddings, computed with its own prompts, pooling and dense
layers. This kind keeps that score and learns a cumulative-link (ordinal logistic) head on it:
P(grade >= k) = sigmoid(scale * (cosine - cut_k)) with increasing cuts, so the expected grade rises with the cosine
and the grades stay ordered. The encoder is fine-tuned whole, in its top ``train_layers`` only, or not at all
(``train_layers=0``): then the folder keeps only the head and the base's path, and embeddings are cached on disk
(``embedding_cache.py``), so each distinct text is embedded once. Tuning only the top blocks keeps the frozen
trunk's output per text in memory while training (``trunk_cache.py``), so a step costs only the tuned blocks. See
benchmarks/RESULTS.md for the measurements.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..fingerprint import file_digest
from ..io.files import read_json_object, write_atomic
from .base import Features, device_of, pad
from .embedding_cache import EmbeddingCache, default_cache_path
from .encoders import prompts, sentence_encoder, train_only_top, transformer_blocks, weight_files
from .trunk_cache import TrunkCache

HEAD_FILE = "ordinal_head.json"
SETTINGS_FILE = "bi_encoder.json"  # a frozen encoder's student: the base's path and prompts, no encoder weights


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

    def __init__(self, encoder: Any, head: Any, base: str | None = None) -> None:
        import torch

        self.module = torch.nn.ModuleDict({"encoder": encoder, "head": head})
        self.tokenizer = encoder.tokenizer
        self.prompts = prompts(encoder)
        self.num_grades = len(head.cuts()) + 1
        self.base = base  # set when the encoder is frozen: the folder it is loaded from
        self.cache: EmbeddingCache | None = None
        self.trunk: TrunkCache | None = None  # set while training only the top blocks

    @classmethod
    def from_base(cls, base: str, grades: Sequence[int], device: str, config: Any) -> BiEncoder:
        """A sentence-transformers (or plain Hugging Face) folder; ``config.train_layers`` says what trains."""
        encoder = sentence_encoder(base, device)
        train_only_top(encoder, config.train_layers)
        frozen = config.train_layers == 0
        model = cls(encoder, ordinal_head(len(grades)).to(device), str(Path(base).resolve()) if frozen else None)
        blocks = transformer_blocks(encoder) if config.train_layers else None
        if blocks is not None and config.train_layers < len(blocks):
            model.trunk = TrunkCache(encoder, blocks, len(blocks) - config.train_layers)
        return model

    @classmethod
    def weights(cls, folder: Path) -> list[Path]:
        settings = folder / SETTINGS_FILE
        base = read_json_object(settings, "a frozen student's settings").get("base") if settings.is_file() else None
        return [folder / HEAD_FILE] + weight_files(Path(base) if base else folder)

    @classmethod
    def load(cls, folder: Path, device: str) -> BiEncoder:
        import torch

        folder = Path(folder)
        state = read_json_object(folder / HEAD_FILE, "the ordinal head's weights")
        head = ordinal_head(len(state["log_gaps"]) + 2)
        head.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
        settings = folder / SETTINGS_FILE
        base = read_json_object(settings, "a frozen student's settings").get("base") if settings.is_file() else None
        return cls(sentence_encoder(base or folder, device), head.to(device), base)

    def use_cache(self, fmt: str) -> None:
        """With a frozen encoder, keep its embeddings (in numeric format ``fmt``) in the on-disk cache."""
        if self.base is not None:
            digests = [file_digest(path) for path in weight_files(Path(self.base))]
            self.cache = EmbeddingCache(default_cache_path(), f"{','.join(digests)}:{fmt}")

    def encode(self, queries: Sequence[str], docs: Sequence[str], max_length: int) -> list[Features]:
        """Query and passage tokenized apart, each with the base's own prompt and cut at ``max_length`` tokens."""

        def ids(texts: Sequence[str], prompt: str) -> list[list[int]]:
            return self.tokenizer(
                [prompt + t for t in texts], truncation=True, max_length=max_length, return_attention_mask=False
            )["input_ids"]

        return [
            {"query_ids": a, "doc_ids": b}
            for a, b in zip(ids(queries, self.prompts["query"]), ids(docs, self.prompts["document"]))
        ]

    def length(self, features: Features) -> int:
        return len(features["doc_ids"])

    def log_probs(self, features: Sequence[Features]) -> Any:
        """Each distinct query of the batch is embedded once."""
        distinct = {tuple(f["query_ids"]): None for f in features}
        row = {ids: i for i, ids in enumerate(distinct)}
        queries = self.embed(list(distinct))
        docs = self.embed([tuple(f["doc_ids"]) for f in features])
        cosine = (queries[[row[tuple(f["query_ids"])] for f in features]] * docs).sum(-1)
        return self.module["head"](cosine.float())

    def embed(self, ids: Sequence[tuple[int, ...]]) -> Any:
        """L2-normalized embeddings of token id sequences (from the cache where it has them)."""
        import torch

        if self.cache is None:
            return self._embed(ids)
        known = self.cache.get(ids)
        missing = list(dict.fromkeys(i for i in ids if i not in known))
        if missing:
            self.module["encoder"].eval()  # frozen: no dropout, so a cached vector is the vector
            with torch.no_grad():
                fresh = self._embed(missing).float().cpu().numpy()
            self.cache.put(dict(zip(missing, fresh)))
            known.update(zip(missing, fresh))
        return torch.from_numpy(np.stack([known[i] for i in ids])).to(device_of(self.module))

    def _embed(self, ids: Sequence[tuple[int, ...]]) -> Any:
        import torch

        batch = pad(self.tokenizer, [{"input_ids": list(x)} for x in ids], device_of(self.module))
        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        encoder = self.module["encoder"]
        if self.trunk is not None and encoder.training:  # training the top blocks: the trunk's work is cached
            embedding = self.trunk.run(lambda x: encoder(dict(x))["sentence_embedding"], inputs, ids)
        else:
            embedding = encoder(inputs)["sentence_embedding"]
        return torch.nn.functional.normalize(embedding, dim=-1)

    def param_groups(self, learning_rate: float, head_learning_rate: float) -> list[dict[str, Any]]:
        tuned = [p for p in self.module["encoder"].parameters() if p.requires_grad]
        return ([{"params": tuned, "lr": learning_rate}] if tuned else []) + [
            {"params": list(self.module["head"].parameters()), "lr": head_learning_rate}
        ]

    def save(self, folder: Path) -> None:
        if self.base is None:
            encoder: Any = self.module["encoder"]
            encoder.save(str(folder))
        else:
            self.tokenizer.save_pretrained(folder)
            write_atomic(
                Path(folder) / SETTINGS_FILE, json.dumps({"base": self.base, "prompts": self.prompts}, indent=2) + "\n"
            )
        state = {k: v.tolist() for k, v in self.module["head"].state_dict().items()}
        write_atomic(Path(folder) / HEAD_FILE, json.dumps(state, indent=2) + "\n")
