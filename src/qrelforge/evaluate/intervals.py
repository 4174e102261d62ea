"""Agreement statistics with 95% intervals from a bootstrap over queries: pairs of one query share its topic and
its assessor, so they are resampled together (a cluster bootstrap), not one by one.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> truth = rng.integers(0, 4, 400)
>>> guess = np.where(rng.random(400) < 0.7, truth, rng.integers(0, 4, 400))
>>> result = agreement_with_intervals(guess, truth, [f"q{i % 20}" for i in range(400)], (0, 1, 2, 3))
>>> low, high = result.intervals["kappa"]
>>> bool(low < result.values["kappa"] < high), sorted(result.values)
(True, ['accuracy', 'alpha', 'kappa'])
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

STATISTICS = ("kappa", "alpha", "accuracy")


@dataclass(frozen=True)
class AgreementEstimate:
    n: int
    queries: int
    values: dict[str, float | None]  # kappa (Cohen's, unweighted), alpha (Krippendorff's, ordinal), accuracy
    intervals: dict[str, tuple[float, float] | None]  # 95% percentile intervals over query resamples (extrapolated:
    # reaching down to the larger share's own)
    curve: tuple[tuple[float, dict[str, float | None]], ...] = ()  # extrapolated: (training share, values) measured

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"estimated_on_pairs": self.n, "estimated_on_queries": self.queries}
        for name in STATISTICS:
            interval = self.intervals[name]
            out[name] = _round(self.values[name])
            out[f"{name}_ci95"] = [_round(interval[0]), _round(interval[1])] if interval else None
        if self.curve:
            out["learning_curve"] = [
                {"trained_on_share": _round(share)} | {name: _round(v) for name, v in values.items()}
                for share, values in self.curve
            ]
        return out


def agreement_with_intervals(
    labels: Sequence[int] | np.ndarray,
    reference: Sequence[int] | np.ndarray,
    groups: Sequence[str],
    grades: Sequence[int],
    resamples: int = 2000,
    seed: int = 0,
) -> AgreementEstimate:
    """Kappa, ordinal alpha and accuracy of ``labels`` against ``reference`` (pair by pair), each with a 95%
    percentile interval from ``resamples`` bootstrap draws of the queries (``groups``: each pair's query).

    The values are sklearn's and krippendorff's; a resample's are computed from its summed per-query confusion
    matrices (the same formulas, all resamples at once), so thousands of resamples take milliseconds."""
    labels_arr, reference_arr = np.asarray(labels), np.asarray(reference)
    values = _statistics(labels_arr, reference_arr, grades)
    resampled = _resampled(labels_arr, reference_arr, groups, grades, resamples, seed)
    return _estimate(len(labels_arr), len(set(groups)), values, resampled, resamples)


def extrapolated_agreement(
    larger: Sequence[int] | np.ndarray,
    smaller: Sequence[int] | np.ndarray,
    shares: tuple[float, float],
    reference: Sequence[int] | np.ndarray,
    groups: Sequence[str],
    grades: Sequence[int],
    resamples: int = 2000,
    seed: int = 0,
    to: float = 1.0,
) -> AgreementEstimate:
    """The agreement with ``reference`` of labels from a model fitted on ``to`` times the sample (the whole sample by
    default), extrapolated from out-of-fold labels of models fitted on two ``shares`` of it (``larger``'s and
    ``smaller``'s): each statistic s(to) = s(a) + max(0, s(a) - s(b)) * ln(to/a) / ln(a/b), a learning curve straight
    in the log of the training size that never falls with more data. The intervals come from one bootstrap over
    queries of both, each widened down to the ``larger`` labels' own interval: the curve's slope rests on two fits
    whose training noise the bootstrap does not see, so the model fitted on more is taken to do at least as well as
    ``larger``'s, not surely as much better as the curve says.

    >>> rng = np.random.default_rng(0)
    >>> truth = rng.integers(0, 4, 400)
    >>> def noisy(keep): return np.where(rng.random(400) < keep, truth, rng.integers(0, 4, 400))
    >>> groups = [f"q{i % 20}" for i in range(400)]
    >>> larger = noisy(0.7)
    >>> result = extrapolated_agreement(larger, noisy(0.6), (0.5, 0.25), truth, groups, (0, 1, 2, 3))
    >>> at = {share: values["accuracy"] for share, values in result.curve}
    >>> bool(result.values["accuracy"] > at[0.5] > at[0.25])
    True
    >>> own = agreement_with_intervals(larger, truth, groups, (0, 1, 2, 3)).intervals["accuracy"]
    >>> result.intervals["accuracy"][0] == own[0]
    True
    """
    a, b = shares
    if not 0 < b < a < min(1.0, to):
        raise ValueError(f"extrapolating to {to} needs two training shares 0 < smaller < larger < 1, not {shares}")
    step = math.log(to / a) / math.log(a / b)
    arrays = [np.asarray(larger), np.asarray(smaller)]
    reference_arr = np.asarray(reference)
    points = [_statistics(labels, reference_arr, grades) for labels in arrays]
    values: dict[str, float | None] = {}
    for name in STATISTICS:
        at_a, at_b = points[0][name], points[1][name]
        values[name] = None if at_a is None or at_b is None else at_a + max(0.0, at_a - at_b) * step
    near, far = (_resampled(labels, reference_arr, groups, grades, resamples, seed) for labels in arrays)
    resampled = {name: near[name] + np.maximum(0.0, near[name] - far[name]) * step for name in STATISTICS}
    estimate = _estimate(len(reference_arr), len(set(groups)), values, resampled, resamples)
    own = _estimate(len(reference_arr), len(set(groups)), points[0], near, resamples).intervals
    intervals = {name: _down_to(estimate.intervals[name], own[name]) for name in STATISTICS}
    return replace(estimate, intervals=intervals, curve=((b, points[1]), (a, points[0])))


def _down_to(interval: tuple[float, float] | None, floor: tuple[float, float] | None) -> tuple[float, float] | None:
    """``interval`` reaching down to ``floor``'s low end where that is lower."""
    if interval is None or floor is None:
        return interval
    return min(interval[0], floor[0]), interval[1]


def _resampled(
    labels: np.ndarray, reference: np.ndarray, groups: Sequence[str], grades: Sequence[int], resamples: int, seed: int
) -> dict[str, np.ndarray]:
    """Each statistic on ``resamples`` bootstrap draws of the queries (empty with fewer than two queries); the draws
    depend only on the number of queries and the ``seed``, so two labelings of the same pairs are resampled alike."""
    names = sorted(set(groups))
    if len(names) < 2:
        return {name: np.array([]) for name in STATISTICS}
    index = {g: i for i, g in enumerate(grades)}
    query = {name: i for i, name in enumerate(names)}
    confusions = np.zeros((len(names), len(grades), len(grades)))
    rows = [query[g] for g in groups]
    np.add.at(confusions, (rows, [index[int(r)] for r in reference], [index[int(x)] for x in labels]), 1)
    draws = np.random.default_rng(seed).multinomial(len(names), np.full(len(names), 1 / len(names)), resamples)
    return confusion_statistics(np.einsum("rq,qij->rij", draws, confusions))


def _estimate(
    n: int, queries: int, values: dict[str, float | None], resampled: dict[str, np.ndarray], resamples: int
) -> AgreementEstimate:
    """The values with their 95% percentile intervals over the ``resampled`` ones (none where fewer than half the
    resamples give a finite value)."""
    intervals: dict[str, tuple[float, float] | None] = {}
    for name in STATISTICS:
        finite = resampled[name][np.isfinite(resampled[name])]
        if values[name] is None or len(finite) < resamples / 2:
            intervals[name] = None
        else:
            intervals[name] = (float(np.quantile(finite, 0.025)), float(np.quantile(finite, 0.975)))
    return AgreementEstimate(n, queries, values, intervals)


def confusion_statistics(confusions: np.ndarray) -> dict[str, np.ndarray]:
    """Cohen's kappa, Krippendorff's ordinal alpha (two coders, every unit coded by both) and accuracy of each
    ``[..., reference, label]`` confusion matrix of counts (NaN where undefined).

    >>> import krippendorff
    >>> from sklearn.metrics import cohen_kappa_score
    >>> a, b = [0, 1, 2, 3, 3, 1, 0, 2, 2], [0, 1, 1, 3, 2, 1, 0, 0, 2]
    >>> confusion = np.zeros((4, 4)); np.add.at(confusion, (a, b), 1)
    >>> found = confusion_statistics(confusion)
    >>> alpha = krippendorff.alpha(reliability_data=[a, b], level_of_measurement="ordinal", value_domain=range(4))
    >>> bool(np.isclose(found["kappa"], cohen_kappa_score(a, b))), bool(np.isclose(found["alpha"], alpha))
    (True, True)
    """
    with np.errstate(all="ignore"):
        n = confusions.sum(axis=(-2, -1))
        observed = np.trace(confusions, axis1=-2, axis2=-1) / n
        chance = (confusions.sum(-1) * confusions.sum(-2)).sum(-1) / n**2
        coincidences = confusions + np.swapaxes(confusions, -2, -1)
        marginals = coincidences.sum(-1)  # each grade's count among all 2n values
        cumulative, size = np.cumsum(marginals, -1), marginals.shape[-1]
        lower = np.where(
            np.arange(size)[:, None] <= np.arange(size)[None, :], marginals[..., :, None], marginals[..., None, :]
        )
        between = np.abs(cumulative[..., None, :] - cumulative[..., :, None]) + lower  # the counts from grade c to k
        distance = (between - (marginals[..., :, None] + marginals[..., None, :]) / 2) ** 2
        expected = (marginals[..., :, None] * marginals[..., None, :] * distance).sum((-2, -1)) / (2 * n - 1)
        alpha = 1 - (coincidences * distance).sum((-2, -1)) / expected
        return {"kappa": (observed - chance) / (1 - chance), "alpha": alpha, "accuracy": observed}


def _statistics(labels: np.ndarray, reference: np.ndarray, grades: Sequence[int]) -> dict[str, float | None]:
    import krippendorff
    from sklearn.metrics import cohen_kappa_score

    both = set(labels.tolist()) | set(reference.tolist())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kappa = float(cohen_kappa_score(reference, labels, labels=list(grades))) if len(both) > 1 else None
        alpha = (
            float(
                krippendorff.alpha(
                    reliability_data=np.vstack([reference, labels]).astype(float),
                    level_of_measurement="ordinal",
                    value_domain=list(grades),
                )
            )
            if len(both) > 1
            else None
        )
    finite = {k: v if v is not None and math.isfinite(v) else None for k, v in (("kappa", kappa), ("alpha", alpha))}
    return finite | {"accuracy": float((labels == reference).mean()) if len(labels) else None}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
