"""A trained student, loaded by path as a Judge. The model folder's ``qrelforge.json`` names its kind.

Inference helpers here are shared with training, so validation scores pairs exactly as labeling does.
"""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import Dataset
from ..errors import ConfigError, InputFormatError
from ..records import Judgment, Pair
from .base import Judge, file_digest, make_fingerprint

CARD_FILE, WEIGHTS_FILE = "qrelforge.json", "model.safetensors"
PRECISIONS = ("auto", "bf16", "fp32")


def bf16_is_fast(device: str) -> bool:
    """True where bf16 matrix work beats fp32: CUDA with bf16, or a CPU with AMX or AVX512-BF16 (detected)."""
    import torch

    if device == "cuda":
        return torch.cuda.is_bf16_supported()
    cpu = torch.cpu
    return any(getattr(cpu, probe, lambda: False)() for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))


def use_bf16(precision: str, device: str) -> bool:
    """Resolve ``auto``/``bf16``/``fp32`` to whether autocast to bf16 is used."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r} is not one of {PRECISIONS}")
    return precision == "bf16" or (precision == "auto" and bf16_is_fast(device))


def autocast(bf16: bool, device: str) -> contextlib.AbstractContextManager:
    import torch

    return torch.autocast(device, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def quiet_transformers() -> None:
    """Keep transformers' own progress bars and load reports out of our output."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


Features = dict[str, list[int]]  # one encoded pair: input_ids (+ token_type_ids where the model uses them)


def encode(tokenizer: Any, queries: Sequence[str], docs: Sequence[str], max_length: int) -> list[Features]:
    """``[CLS] query [SEP] doc [SEP]`` with segment ids; the longer text (normally the doc) is cut first."""
    encoded = tokenizer(list(queries), list(docs), truncation="longest_first", max_length=max_length,
                        return_attention_mask=False)
    return [dict(zip(encoded.keys(), values)) for values in zip(*encoded.values())]


def pad(tokenizer: Any, features: Sequence[Features], device: Any) -> dict[str, Any]:
    """A batch padded to its longest pair (dynamic padding), as tensors on ``device``."""
    return tokenizer.pad(list(features), return_tensors="pt").to(device)


def predict_probs(model: Any, tokenizer: Any, features: Sequence[Features], batch_size: int, bf16: bool) -> np.ndarray:
    """Grade probabilities per pair. Pairs are batched by length (dynamic padding); output keeps input order."""
    import torch

    device = next(model.parameters()).device
    order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))
    out = np.zeros((len(features), model.config.num_labels), dtype=np.float32)
    model.eval()
    with torch.inference_mode(), autocast(bf16, device.type):
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            batch = pad(tokenizer, [features[i] for i in chunk], device)
            out[chunk] = torch.softmax(model(**batch).logits.float(), dim=-1).cpu().numpy()
    return out


def expected_grade(probs: np.ndarray, grades: Sequence[int]) -> np.ndarray:
    """The mean grade under each pair's probabilities."""
    return probs @ np.asarray(grades, dtype=np.float64)


def decide(probs: np.ndarray, grades: Sequence[int], thresholds: Sequence[float]) -> np.ndarray:
    """Grade per pair: the expected grade cut at the tuned thresholds (one fewer than there are grades)."""
    return np.asarray(grades)[np.searchsorted(np.asarray(thresholds), expected_grade(probs, grades), side="right")]


def read_card(model_dir: str | Path) -> dict[str, Any]:
    """The student's ``qrelforge.json``: kind, grades, thresholds, max length, training record."""
    path = Path(model_dir) / CARD_FILE
    if not path.is_file():
        raise InputFormatError(path, None, "a student model folder written by 'qrelforge train'", "no qrelforge.json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputFormatError(path, exc.lineno, "a JSON object", exc.msg) from None


class CrossEncoderStudent:
    """A fine-tuned cross-encoder: one forward pass per pair gives a probability per grade."""

    def __init__(self, model_dir: str | Path, dataset: Dataset, batch_size: int = 64, precision: str = "auto") -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        quiet_transformers()
        model_dir = Path(model_dir)
        self.card, self.dataset, self.batch_size = read_card(model_dir), dataset, batch_size
        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.bf16 = use_bf16(precision, device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForSequenceClassification.from_pretrained(model_dir).to(device)
        self.fingerprint = make_fingerprint(
            "student", model_dir.name, {"card": self.card, "weights": file_digest(model_dir / WEIGHTS_FILE)})

    def judge(self, pairs: Sequence[Pair]) -> Iterator[Judgment]:
        queries, docs = self.dataset.queries, self.dataset.docs
        features = encode(self.tokenizer, [queries[p.query_id] for p in pairs], [docs[p.doc_id] for p in pairs],
                          self.card["max_length"])
        probs = predict_probs(self.model, self.tokenizer, features, self.batch_size, self.bf16)
        grades = decide(probs, self.card["grades"], self.card["thresholds"])
        for pair, grade, row in zip(pairs, grades.tolist(), probs.tolist()):
            yield Judgment(pair.query_id, pair.doc_id, grade, self.fingerprint,
                           probs=tuple(round(p, 6) for p in row))


STUDENT_KINDS = {"cross-encoder": CrossEncoderStudent}


def load_student(model_dir: str | Path, dataset: Dataset, **options: Any) -> Judge:
    """Load a trained student folder as a Judge over ``dataset``'s texts."""
    kind = read_card(model_dir).get("kind")
    if kind not in STUDENT_KINDS:
        raise ConfigError(f"{model_dir}: student kind {kind!r} is unknown; known kinds: {sorted(STUDENT_KINDS)}")
    return STUDENT_KINDS[kind](model_dir, dataset, **options)
