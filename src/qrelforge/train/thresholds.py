"""Grade thresholds on a student's expected grade, tuned on held-out queries.

>>> import numpy as np
>>> expected = np.array([0.1, 0.2, 1.1, 1.3, 2.2, 2.4, 2.9, 3.0])
>>> cuts = tune_thresholds(expected, np.array([0, 0, 1, 1, 2, 2, 3, 3]), [0, 1, 2, 3])
>>> np.searchsorted(cuts, expected, side="right").tolist()
[0, 0, 1, 1, 2, 2, 3, 3]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def tune_thresholds(expected: np.ndarray, target: np.ndarray, grades: Sequence[int], sweeps: int = 3) -> list[float]:
    """Cut points on the expected grade that maximize Krippendorff's ordinal alpha with ``target``.

    Coordinate ascent over quantiles of ``expected``. Alpha, unlike unweighted kappa, charges more for calling a 3
    a 1 than a 2, so the cuts keep the rare high grades instead of folding them into the common ones (on DL20,
    kappa-tuned cuts never predicted a 3; see benchmarks/RESULTS.md).
    """
    import krippendorff

    grades_arr = np.asarray(grades)
    cuts = [(a + b) / 2 for a, b in zip(grades, grades[1:])]
    quantiles = np.unique(np.quantile(expected, np.linspace(0, 1, 101)))
    # midway between quantiles: a cut never sits on a pair's value, where float noise (batching) would flip its grade
    candidates = (quantiles[:-1] + quantiles[1:]) / 2 if len(quantiles) > 1 else quantiles

    def score(c: list[float]) -> float:
        predicted = grades_arr[np.searchsorted(c, expected, side="right")]
        if len(set(predicted.tolist()) | set(target.tolist())) < 2:
            return -1.0
        return krippendorff.alpha(
            reliability_data=np.vstack([target, predicted]).astype(float),
            level_of_measurement="ordinal",
            value_domain=list(grades),
        )

    for _ in range(sweeps):
        for i in range(len(cuts)):
            low = cuts[i - 1] if i else -np.inf
            high = cuts[i + 1] if i + 1 < len(cuts) else np.inf
            options = [c for c in candidates if low <= c <= high] + [cuts[i]]
            cuts[i] = max(options, key=lambda c: score(cuts[:i] + [c] + cuts[i + 1 :]))
    return [float(c) for c in cuts]
