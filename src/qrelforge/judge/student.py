"""A trained student, loaded by path as a Judge. The model folder's ``qrelforge.json`` names its kind."""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import Dataset
from ..errors import ConfigError, InputFormatError
from ..labeling_config import EngineSettings
from ..records import Judgment, Pair
from ..students.base import StudentModel, decide, default_device, quiet_transformers
from ..students.bi_encoder import BiEncoder
from ..students.causal_lm import CausalLM
from ..students.cross_encoder import CrossEncoder
from ..students.engine import numeric_format, prepare, score_texts
from .base import Judge, file_digest, make_fingerprint

CARD_FILE = "qrelforge.json"
STUDENT_KINDS = {kind.kind: kind for kind in (BiEncoder, CrossEncoder, CausalLM)}


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


def student_fingerprint(model_dir: str | Path, fmt: str) -> str:
    """What fixes a student's outputs: its card, its weight files, and the numeric format it runs in."""
    model_dir = Path(model_dir)
    card = read_card(model_dir)
    kind = student_kind(card.get("kind"), str(model_dir))
    return make_fingerprint("student", model_dir.name, {
        "card": card, "weights": [file_digest(path) for path in kind.weights(model_dir)], "format": fmt})


def load_model(model_dir: str | Path, fmt: str, device: str) -> StudentModel:
    """The student's model, ready for inference in ``fmt`` on ``device``."""
    quiet_transformers()
    model = student_kind(read_card(model_dir).get("kind"), str(model_dir)).load(Path(model_dir), device)
    prepare(model, fmt)
    return model


def judgments(pairs: Sequence[Pair], probs: np.ndarray, card: dict[str, Any], fingerprint: str) -> Iterator[Judgment]:
    """One judgment per pair: the grade decided from its probabilities at the card's thresholds."""
    grades = decide(probs, card["grades"], card["thresholds"])
    for pair, grade, row in zip(pairs, grades.tolist(), probs.tolist()):
        yield Judgment(pair.query_id, pair.doc_id, grade, fingerprint, probs=tuple(round(p, 6) for p in row))


class Student:
    """A fine-tuned student model: one forward pass per pair gives a probability per grade."""

    def __init__(self, model_dir: str | Path, dataset: Dataset, settings: EngineSettings = EngineSettings()) -> None:
        device = default_device()
        self.card, self.dataset, self.settings = read_card(model_dir), dataset, settings
        self.format = numeric_format(settings.precision, device)
        self.model = load_model(model_dir, self.format, device)
        self.fingerprint = student_fingerprint(model_dir, self.format)
        self.scale = tuple(self.card["grades"])

    def judge(self, pairs: Sequence[Pair]) -> Iterator[Judgment]:
        return judgments(pairs, self.probabilities(pairs), self.card, self.fingerprint)

    def probabilities(self, pairs: Sequence[Pair]) -> np.ndarray:
        """Each pair's probability of each grade of ``scale``, one row per pair."""
        queries, docs = self.dataset.queries, self.dataset.docs
        return score_texts(self.model, [queries[p.query_id] for p in pairs], [docs[p.doc_id] for p in pairs],
                           self.card["max_length"], self.settings, self.format)


def load_student(model_dir: str | Path, dataset: Dataset, settings: EngineSettings = EngineSettings()) -> Judge:
    """Load a trained student folder (any kind) as a Judge over ``dataset``'s texts."""
    return Student(model_dir, dataset, settings)
