"""A trained student, loaded by path as a Judge. The model folder's ``qrelforge.json`` names its kind."""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..datasets import Dataset
from ..errors import ConfigError, InputFormatError
from ..records import Judgment, Pair
from ..students.base import StudentModel, decide, default_device, predict_probs, quiet_transformers, use_bf16
from ..students.bi_encoder import BiEncoder
from ..students.cross_encoder import CrossEncoder
from .base import Judge, file_digest, make_fingerprint

CARD_FILE = "qrelforge.json"
STUDENT_KINDS = {kind.kind: kind for kind in (BiEncoder, CrossEncoder)}


def read_card(model_dir: str | Path) -> dict[str, Any]:
    """The student's ``qrelforge.json``: kind, grades, thresholds, max length, training record."""
    path = Path(model_dir) / CARD_FILE
    if not path.is_file():
        raise InputFormatError(path, None, "a student model folder written by 'qrelforge train'", "no qrelforge.json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputFormatError(path, exc.lineno, "a JSON object", exc.msg) from None


def student_kind(kind: Any, where: str) -> Any:
    """The model class of a student kind, or a ConfigError that lists the known kinds."""
    if kind not in STUDENT_KINDS:
        raise ConfigError(f"{where}: student kind {kind!r} is unknown; known kinds: {sorted(STUDENT_KINDS)}")
    return STUDENT_KINDS[kind]


class Student:
    """A fine-tuned student model: one forward pass per pair gives a probability per grade."""

    def __init__(self, model_dir: str | Path, dataset: Dataset, batch_size: int = 64, precision: str = "auto") -> None:
        quiet_transformers()
        model_dir = Path(model_dir)
        self.card, self.dataset, self.batch_size = read_card(model_dir), dataset, batch_size
        kind = student_kind(self.card.get("kind"), str(model_dir))
        device = default_device()
        self.bf16 = use_bf16(precision, device)
        self.model: StudentModel = kind.load(model_dir, device)
        self.fingerprint = make_fingerprint(
            "student", model_dir.name,
            {"card": self.card, "weights": [file_digest(model_dir / name) for name in kind.weight_files]})

    def judge(self, pairs: Sequence[Pair]) -> Iterator[Judgment]:
        queries, docs = self.dataset.queries, self.dataset.docs
        features = self.model.encode([queries[p.query_id] for p in pairs], [docs[p.doc_id] for p in pairs],
                                     self.card["max_length"])
        probs = predict_probs(self.model, features, self.batch_size, self.bf16)
        grades = decide(probs, self.card["grades"], self.card["thresholds"])
        for pair, grade, row in zip(pairs, grades.tolist(), probs.tolist()):
            yield Judgment(pair.query_id, pair.doc_id, grade, self.fingerprint,
                           probs=tuple(round(p, 6) for p in row))


def load_student(model_dir: str | Path, dataset: Dataset, **options: Any) -> Judge:
    """Load a trained student folder (any kind) as a Judge over ``dataset``'s texts."""
    return Student(model_dir, dataset, **options)
