"""Ranking quality with ir_measures, per query, and whether one ranker is really better than another.

A run maps each query to its candidates' scores. Measures are ir_measures names; the defaults follow TREC Deep
Learning: nDCG@10 on the graded labels, and MAP and MRR@10 counting grade 2 and above as relevant. Values are kept
per query so that two runs can be compared pair-wise: a 95% bootstrap interval on the mean, and a paired
randomization (permutation) test and t-test on the per-query differences (scipy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..records import Pair

Run = Mapping[str, Mapping[str, float]]  # query id -> doc id -> score (higher is better)
MEASURES = ("nDCG@10", "AP(rel=2)", "RR(rel=2)@10")


def per_query(qrels: Mapping[Pair, int], run: Run, measures: Sequence[str] = MEASURES) -> dict[str, dict[str, float]]:
    """``measure -> query id -> value`` for every query of ``run`` that has qrels (0 where it retrieved nothing
    relevant)."""
    import ir_measures

    try:
        parsed = [ir_measures.parse_measure(m) for m in measures]
    except (ValueError, NameError, SyntaxError) as exc:
        raise ConfigError(f"unknown ir_measures measure in {list(measures)}: {exc}") from None
    judged: dict[str, dict[str, int]] = {}
    for pair, grade in qrels.items():
        judged.setdefault(pair.query_id, {})[pair.doc_id] = grade
    scored = {q: {d: float(s) for d, s in docs.items()} for q, docs in run.items() if q in judged and docs}
    if not scored:
        raise ConfigError("the run and the qrels share no query: nothing to evaluate")
    out: dict[str, dict[str, float]] = {m: dict.fromkeys(scored, 0.0) for m in measures}
    for metric in ir_measures.iter_calc(parsed, {q: judged[q] for q in scored}, scored):
        out[measures[parsed.index(metric.measure)]][metric.query_id] = metric.value
    return out


@dataclass(frozen=True)
class Mean:
    value: float
    low: float  # 95% bootstrap confidence interval
    high: float
    queries: int


def mean_with_interval(values: Mapping[str, float], seed: int = 0) -> Mean:
    """The mean over queries, with a 95% percentile-bootstrap interval."""
    from scipy.stats import bootstrap

    data = np.array(list(values.values()), dtype=float)
    if len(data) < 2 or np.ptp(data) == 0:
        return Mean(float(data.mean()), float(data.mean()), float(data.mean()), len(data))
    interval = bootstrap(
        (data,), np.mean, confidence_level=0.95, n_resamples=10_000, method="percentile", random_state=seed
    ).confidence_interval
    return Mean(float(data.mean()), float(interval.low), float(interval.high), len(data))


@dataclass(frozen=True)
class Comparison:
    difference: float  # mean of (b - a) over the shared queries
    p_randomization: float  # two-sided paired permutation test
    p_ttest: float  # two-sided paired t-test
    queries: int


def paired_comparison(a: Mapping[str, float], b: Mapping[str, float], seed: int = 0) -> Comparison:
    """Is ``b`` better than ``a`` on the same queries? Both tests are two-sided and pair the queries."""
    from scipy.stats import permutation_test, ttest_rel

    shared = sorted(set(a) & set(b))
    if len(shared) < 2:
        raise ConfigError(f"a paired test needs two or more shared queries; got {len(shared)}")
    x, y = np.array([a[q] for q in shared]), np.array([b[q] for q in shared])
    if np.allclose(x, y):
        return Comparison(0.0, 1.0, 1.0, len(shared))
    randomized = permutation_test(
        (y, x),
        lambda u, v: np.mean(u - v),
        permutation_type="samples",
        n_resamples=10_000,
        alternative="two-sided",
        random_state=seed,
    )
    return Comparison(float(np.mean(y - x)), float(randomized.pvalue), float(ttest_rel(y, x).pvalue), len(shared))
