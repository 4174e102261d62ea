"""A trained student, loaded by path as a Judge: grade probabilities, expected grades and grades for a batch of pairs.

>>> from qrelforge import Batch, load_student  # doctest: +SKIP
>>> student = load_student("model_dir")  # doctest: +SKIP
>>> student.expected_grades(Batch(dataset.pairs[:3], dataset))  # doctest: +SKIP
array([0.41, 2.73, 1.02])
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..judges.base import Batch, Traits
from ..records import Judgment, Pair, StudentCard, Usage
from .base import StudentModel, decide, default_device, expected_grade, numeric_format, temper
from .config import EngineSettings
from .engine import score_texts
from .registry import load_model, read_card, student_fingerprint


def student_judgments(pairs: Sequence[Pair], probs: np.ndarray, card: StudentCard, fingerprint: str) -> list[Judgment]:
    """One judgment per pair: the grade decided from its probabilities at the card's thresholds."""
    grades = decide(probs, card.grades, card.thresholds)
    return [
        Judgment(pair.query_id, pair.doc_id, grade, fingerprint, probs=tuple(round(p, 6) for p in row))
        for pair, grade, row in zip(pairs, grades.tolist(), probs.tolist())
    ]


class Student:
    """A fine-tuned student model: one forward pass per pair gives a probability per grade.

    The model is loaded on first use, so a Student names its fingerprint cheaply; pickled (to a Ray actor), it keeps
    its folder and settings and loads the model again where it runs.
    """

    def __init__(self, model_dir: str | Path, settings: EngineSettings = EngineSettings()) -> None:
        self.model_dir, self.settings = Path(model_dir), settings
        self.card = read_card(model_dir)
        self.format = numeric_format(settings.precision, default_device())
        self.fingerprint = student_fingerprint(model_dir, self.format)
        self.scale = self.card.grades
        self.traits = Traits(
            batch_pairs=4 * settings.chunk_pairs, probabilities=True, card=self.card, folder=self.model_dir
        )

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "model"}  # the loaded model stays where it was

    @functools.cached_property
    def model(self) -> StudentModel:
        return load_model(self.model_dir, self.format, default_device())

    def judge(self, batch: Batch) -> list[Judgment]:
        return student_judgments(batch.pairs, self.probabilities(batch), self.card, self.fingerprint)

    def worst_case(self, batch: Batch) -> Usage:
        return Usage()

    def probabilities(self, batch: Batch) -> np.ndarray:
        """Each pair's probability of each grade of ``scale``, one row per pair (calibrated, as the card says)."""
        probs = score_texts(self.model, batch.queries(), batch.docs(), self.card.max_length, self.settings, self.format)
        return temper(probs, self.card.temperature)

    def expected_grades(self, batch: Batch) -> np.ndarray:
        """Each pair's mean grade under its probabilities: a ranking score finer than its grade."""
        return expected_grade(self.probabilities(batch), self.scale)


def load_student(model_dir: str | Path, settings: EngineSettings = EngineSettings()) -> Student:
    """Load a trained student folder (any kind) as a Judge."""
    return Student(model_dir, settings)
