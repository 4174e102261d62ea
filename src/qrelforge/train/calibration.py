"""Temperature scaling: one number, fitted on the validation queries, that makes a student's grade probabilities
honest (Guo et al., 2017). It divides the log-probabilities before they are renormalized, so it never changes which
grade is the most probable; the grade thresholds are tuned after it.

>>> import numpy as np
>>> overconfident = np.log(np.array([[0.98, 0.02], [0.98, 0.02], [0.02, 0.98], [0.98, 0.02]]))
>>> round(fit_temperature(overconfident, np.array([0, 0, 1, 1])), 1) > 1   # one of four is wrong: soften
True
"""

from __future__ import annotations

import numpy as np

from ..students.base import temper


def fit_temperature(log_probs: np.ndarray, target: np.ndarray) -> float:
    """The temperature in [0.05, 20] that minimizes the negative log-likelihood of ``target`` (column indices)."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        probs = temper(np.exp(log_probs), float(np.exp(log_t)))
        return -float(np.log(np.clip(probs[np.arange(len(target)), target], 1e-12, None)).mean())

    return float(np.exp(minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded").x))
