"""How well a judge's grade probabilities are calibrated: expected calibration error and a reliability table.

Top-label calibration: a pair's confidence is its largest grade probability, and it is right when that grade is the
reference grade. In a calibrated judge, the pairs it gives 70% are right 70% of the time.

>>> import numpy as np
>>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]])
>>> round(expected_calibration_error(probs, np.array([0, 0, 1, 1])), 3)
0.3
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..records import Judgment, Pair


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    pairs: int
    confidence: float  # mean top probability of the bin's pairs
    accuracy: float  # share of them whose top grade is the reference grade


def reliability(probs: np.ndarray, target: np.ndarray, bins: int = 10) -> list[ReliabilityBin]:
    """Pairs binned by their top probability; ``target`` holds each pair's reference grade as a column index."""
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == target
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    return [
        ReliabilityBin(
            float(edges[b]),
            float(edges[b + 1]),
            int((which == b).sum()),
            float(confidence[which == b].mean()) if (which == b).any() else 0.0,
            float(correct[which == b].mean()) if (which == b).any() else 0.0,
        )
        for b in range(bins)
    ]


def expected_calibration_error(probs: np.ndarray, target: np.ndarray, bins: int = 10) -> float:
    """The pair-weighted mean gap between confidence and accuracy over the bins."""
    table = reliability(probs, target, bins)
    return sum(b.pairs * abs(b.confidence - b.accuracy) for b in table) / max(len(target), 1)


@dataclass(frozen=True)
class CalibrationReport:
    """A student's calibration against reference grades, without and with its temperature."""

    pairs: int
    temperature: float
    ece_before: float
    ece_after: float
    before: list[ReliabilityBin]
    after: list[ReliabilityBin]


def calibration_report(
    calibrated: np.ndarray, target: np.ndarray, temperature: float, bins: int = 10
) -> CalibrationReport:
    """Calibration of probabilities that were tempered by ``temperature``, and of the raw ones they came from."""
    logits = np.log(np.clip(calibrated, 1e-12, None)) * temperature  # undo the temperature, then renormalize
    raw = np.exp(logits - logits.max(axis=1, keepdims=True))
    raw /= raw.sum(axis=1, keepdims=True)
    return CalibrationReport(
        len(target),
        temperature,
        expected_calibration_error(raw, target, bins),
        expected_calibration_error(calibrated, target, bins),
        reliability(raw, target, bins),
        reliability(calibrated, target, bins),
    )


def judgment_calibration(
    judgments: Iterable[Judgment], scale: Sequence[int], qrels: Mapping[Pair, int], temperature: float
) -> CalibrationReport | None:
    """The calibration of judgments' probabilities (over ``scale``) against ``qrels``; None without shared pairs."""
    rows = [(j.probs, qrels[j.pair]) for j in judgments if j.probs and j.pair in qrels and qrels[j.pair] in scale]
    if not rows:
        return None
    probs = np.array([p for p, _ in rows], dtype=float)
    target = np.searchsorted(np.asarray(scale), [g for _, g in rows])
    return calibration_report(probs, target, temperature)
