"""A trained student, loaded by path as a Judge: grade probabilities, expected grades and grades for pairs.

>>> from qrelforge import load_student  # doctest: +SKIP
>>> student = load_student("model_dir", dataset)  # doctest: +SKIP
>>> student.expected_grades(dataset.pairs[:3])  # doctest: +SKIP
array([0.41, 2.73, 1.02])
"""
from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import Dataset
from ..records import Judgment, Pair
from .base import StudentModel, decide, default_device, expected_grade, numeric_format, temper
from .config import EngineSettings
from .engine import score_texts
from .registry import load_model, read_card, student_fingerprint


def card_probabilities(model: StudentModel, queries: Sequence[str], docs: Sequence[str], card: dict[str, Any],
                       settings: EngineSettings, fmt: str) -> np.ndarray:
    """Grade probabilities of text pairs as the card says: the model's, at the card's calibration temperature."""
    probs = score_texts(model, queries, docs, card["max_length"], settings, fmt)
    return temper(probs, card.get("temperature", 1.0))


def student_judgments(pairs: Sequence[Pair], probs: np.ndarray, card: dict[str, Any],
                      fingerprint: str) -> Iterator[Judgment]:
    """One judgment per pair: the grade decided from its probabilities at the card's thresholds."""
    grades = decide(probs, card["grades"], card["thresholds"])
    for pair, grade, row in zip(pairs, grades.tolist(), probs.tolist()):
        yield Judgment(pair.query_id, pair.doc_id, grade, fingerprint, probs=tuple(round(p, 6) for p in row))


class Student:
    """A fine-tuned student model: one forward pass per pair gives a probability per grade.

    The model is loaded on first use, so a Student can name its fingerprint (or hand its folder to Ray) cheaply.
    """

    def __init__(self, model_dir: str | Path, dataset: Dataset, settings: EngineSettings = EngineSettings()) -> None:
        self.model_dir, self.dataset, self.settings = Path(model_dir), dataset, settings
        self.device = default_device()
        self.card = read_card(model_dir)
        self.format = numeric_format(settings.precision, self.device)
        self.fingerprint = student_fingerprint(model_dir, self.format)
        self.scale = tuple(self.card["grades"])
        self.batch_pairs = 4 * settings.chunk_pairs  # pairs handed over per labeling batch (one store append)

    @functools.cached_property
    def model(self) -> StudentModel:
        return load_model(self.model_dir, self.format, self.device)

    def judge(self, pairs: Sequence[Pair]) -> Iterator[Judgment]:
        return student_judgments(pairs, self.probabilities(pairs), self.card, self.fingerprint)

    def probabilities(self, pairs: Sequence[Pair]) -> np.ndarray:
        """Each pair's probability of each grade of ``scale``, one row per pair (calibrated, as the card says)."""
        queries, docs = self.dataset.queries, self.dataset.docs
        return card_probabilities(self.model, [queries[p.query_id] for p in pairs], [docs[p.doc_id] for p in pairs],
                                  self.card, self.settings, self.format)

    def expected_grades(self, pairs: Sequence[Pair]) -> np.ndarray:
        """Each pair's mean grade under its probabilities: a ranking score finer than its grade."""
        return expected_grade(self.probabilities(pairs), self.scale)


def load_student(model_dir: str | Path, dataset: Dataset, settings: EngineSettings = EngineSettings()) -> Student:
    """Load a trained student folder (any kind) as a Judge over ``dataset``'s texts."""
    return Student(model_dir, dataset, settings)
