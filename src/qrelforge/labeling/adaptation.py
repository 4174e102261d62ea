"""The statistics of adapting a student to the collection it labels (the job is ``labeling/adapt.py``): the sample,
the adaptation fitted to the teacher's grades of it, and the cross-fitted estimate of the adapted labels' agreement
with the teacher.

The sample: each query gets its share of the budget, and within a query the share is spread over the student's score
range (its pairs sorted by expected grade are cut into equal strata and one pair is drawn from each), so every pair of
a query has the same chance and the sample is representative. The teacher grades it through ``label_job`` (cached,
billed, resumable, within the budget); those pairs keep the teacher's grade.

The adaptation (``AdaptConfig.adapt_method``; the default, ``auto``, is ``finetune`` for a student that can be
trained further and ``ordinal`` for any other):
- ``ordinal``: an ordinal logistic model of the teacher's grade on the student's expected grade, with
  its own offset for each query, shrunk toward none (a query with few sampled pairs moves little), and grade cuts on
  the model's expected grade tuned to the teacher's grades (ordinal alpha);
- ``level``: each query's mean teacher–student gap on the sample, shrunk, added to the student's expected grade;
- ``cuts``: the student's temperature and grade cuts refitted to the sample;
- ``finetune``: the student trained further on the sample (``labeling/adapt.py`` trains it); its grade cuts are set
  at the quantiles that give the pairs it labels the teacher's grade shares on the sample (``matched_cuts``: the
  fine-tuned student orders the collection's pairs better, but its own cuts come from a few pairs);
- ``none``: the student as it is.

The estimate: the sample is cut into folds by query-stratified rounds (``fold_plan``); each fold's pairs are graded
by an adaptation fitted on the other folds (for ``finetune``, a student fine-tuned on them) and by one fitted on half
of those, and both out-of-fold gradings are compared with the teacher's (kappa, ordinal alpha, accuracy). An
adaptation fitted on less of the sample agrees less, so each statistic is extrapolated from those two training sizes
to the whole sample (``cross_fit``), with a 95% interval from one bootstrap over queries of both, reaching down to
the larger size's own (the fits' training noise is not in the bootstrap). It is written to
``LABELS.adapt.json`` with the two measured points (``learning_curve``). With a route after adapting, the student
labels only the pairs it is surer of: the estimate is of the sample pairs the adapted student would not have routed
(ranked by the same score), extrapolated to what the final student learned from (``Kept``).

>>> import numpy as np
>>> probs = np.array([[0.7, 0.2, 0.1, 0.0]] * 6 + [[0.1, 0.2, 0.3, 0.4]] * 6)
>>> adapter = fit_adapter(probs, ["q1"] * 12, np.array([0] * 6 + [2] * 6), (0, 1, 2, 3), "ordinal", 2.0, None)
>>> adapter.grades(probs, ["q1"] * 12).tolist() == [0] * 6 + [2] * 6
True
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..evaluate.intervals import AgreementEstimate, agreement_with_intervals, extrapolated_agreement
from ..records import Judgment, Pair
from ..students.base import expected_grade, temper


def draw_sample(
    judgments: Sequence[Judgment], scale: Sequence[int], count: int, seed: int, stratified: bool = True
) -> list[Pair]:
    """``count`` pairs of the student's ``judgments``: each query's share in proportion to its pairs (at least one
    each while the count allows), spread over the student's score range (or drawn at random)."""
    by_query: dict[str, list[Judgment]] = {}
    for judgment in judgments:
        if judgment.probs is not None:
            by_query.setdefault(judgment.query_id, []).append(judgment)
    shares = _apportion({q: len(js) for q, js in by_query.items()}, count)
    sample = []
    for query_id, mine in sorted(by_query.items()):
        rng, n = random.Random(f"{seed}:{query_id}"), shares[query_id]
        if n == 0:
            continue
        if not stratified:
            sample += [j.pair for j in rng.sample(mine, n)]
            continue
        ranked = sorted(mine, key=lambda j: (float(np.dot(j.probs or (), scale)), j.pair))
        edges = np.linspace(0, len(ranked), n + 1)
        sample += [ranked[rng.randrange(int(lo), max(int(lo) + 1, int(hi)))].pair for lo, hi in zip(edges, edges[1:])]
    return sorted(sample)


def _apportion(sizes: dict[str, int], count: int) -> dict[str, int]:
    """``count`` split over the groups in proportion to their sizes (largest remainders), at least one each while
    the count allows, never more than a group has."""
    total = sum(sizes.values())
    count = min(count, total)
    if not total or count <= 0:
        return {q: 0 for q in sizes}
    floor = 1 if count >= len(sizes) else 0
    exact = {q: max(floor, count * n / total) for q, n in sizes.items()}
    shares = {q: min(sizes[q], int(v)) for q, v in exact.items()}
    for q in sorted(sizes, key=lambda q: (-(exact[q] - int(exact[q])), q)):
        if sum(shares.values()) >= count:
            break
        if shares[q] < sizes[q]:
            shares[q] += 1
    while sum(shares.values()) > count:  # the floor of one each can overshoot: take back from the largest shares
        largest = max(shares, key=lambda q: (shares[q], q))
        shares[largest] -= 1
    return shares


@dataclass(frozen=True)
class Adapter:
    """A fitted adaptation: turns the student's probabilities of pairs (and their queries) into adapted ones."""

    method: str
    grades_scale: tuple[int, ...]
    thresholds: tuple[float, ...]  # cuts on the adapted expected grade
    temperature: float = 1.0  # method cuts
    slope: float = 1.0  # method ordinal: the weight of the student's expected grade
    cuts: tuple[float, ...] = ()  # method ordinal: the ordinal model's cuts
    offsets: tuple[tuple[str, float], ...] = ()  # ordinal: each query's offset (logit units); level: its grade shift

    def probabilities(self, probs: np.ndarray, queries: Sequence[str]) -> np.ndarray:
        """Adapted grade probabilities (as given for ``level``, ``finetune`` and ``none``: they move the decision)."""
        if self.method == "cuts":
            return temper(probs, self.temperature)
        if self.method != "ordinal":
            return probs
        offsets = dict(self.offsets)
        eta = self.slope * expected_grade(probs, self.grades_scale) + np.array([offsets.get(q, 0.0) for q in queries])
        return _ordinal_probs(eta, np.asarray(self.cuts))

    def expected(self, probs: np.ndarray, queries: Sequence[str]) -> np.ndarray:
        """The adapted expected grade each pair's grade is cut from."""
        shift = np.array([dict(self.offsets).get(q, 0.0) for q in queries]) if self.method == "level" else 0.0
        return expected_grade(self.probabilities(probs, queries), self.grades_scale) + shift

    def grades(self, probs: np.ndarray, queries: Sequence[str]) -> np.ndarray:
        scale = self.grades_scale
        return np.asarray(scale)[
            np.searchsorted(np.asarray(self.thresholds), self.expected(probs, queries), side="right")
        ]


def fit_adapter(
    probs: np.ndarray,
    queries: Sequence[str],
    teacher: np.ndarray,
    scale: Sequence[int],
    method: str,
    shrinkage: float,
    student_thresholds: Sequence[float] | None,
) -> Adapter:
    """The adaptation ``method`` fitted on the sample: the student's ``probs`` of its pairs, their ``queries`` and the
    ``teacher``'s grades."""
    from ..train.calibration import fit_temperature
    from ..train.thresholds import tune_thresholds

    scale = tuple(scale)
    column = np.searchsorted(scale, teacher)
    if method == "none":
        cuts = tuple(student_thresholds) if student_thresholds else tuple((a + b) / 2 for a, b in zip(scale, scale[1:]))
        return Adapter(method, scale, cuts)
    if method == "cuts":
        temperature = fit_temperature(np.log(np.clip(probs, 1e-12, None)), column)
        expected = expected_grade(temper(probs, temperature), scale)
        return Adapter(method, scale, tuple(tune_thresholds(expected, teacher, scale)), temperature)
    if method == "level":
        gap = teacher - expected_grade(probs, scale)
        shifts: dict[str, float] = {}
        for query in sorted(set(queries)):
            mine = gap[np.asarray(queries) == query]
            shifts[query] = float(mine.mean() * len(mine) / (len(mine) + shrinkage))
        shifted = expected_grade(probs, scale) + np.array([shifts[q] for q in queries])
        return Adapter(method, scale, tuple(tune_thresholds(shifted, teacher, scale)), offsets=tuple(shifts.items()))
    if method == "ordinal":
        slope, cuts, offsets = _fit_ordinal(expected_grade(probs, scale), queries, column, len(scale), shrinkage)
        partial = Adapter(method, scale, (), slope=slope, cuts=cuts, offsets=offsets)
        return Adapter(
            method,
            scale,
            tuple(tune_thresholds(partial.expected(probs, queries), teacher, scale)),
            slope=slope,
            cuts=cuts,
            offsets=offsets,
        )
    raise ConfigError(f"adaptation method {method!r} is unknown")


def matched_cuts(expected: np.ndarray, teacher: np.ndarray, scale: Sequence[int]) -> tuple[float, ...]:
    """Cuts on the ``expected`` grades of the pairs to label that give them the grade shares of the ``teacher``'s
    grades (the quantiles of the shares' running sums).

    >>> matched_cuts(np.arange(10.0), np.array([0, 0, 1, 3, 3]), (0, 1, 2, 3))
    (3.6, 5.4, 5.4)
    """
    shares = np.array([np.mean(np.asarray(teacher) == g) for g in scale])
    return tuple(float(c) for c in np.quantile(expected, np.cumsum(shares)[:-1]))


def _ordinal_probs(eta: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    at_least = 1 / (1 + np.exp(-(eta[:, None] - cuts[None])))
    bounds = np.hstack([np.ones((len(eta), 1)), at_least, np.zeros((len(eta), 1))])
    return np.clip(bounds[:, :-1] - bounds[:, 1:], 0.0, 1.0)


def _fit_ordinal(
    score: np.ndarray, queries: Sequence[str], column: np.ndarray, grades: int, shrinkage: float
) -> tuple[float, tuple[float, ...], tuple[tuple[str, float], ...]]:
    """Maximum penalized likelihood of P(grade >= k) = sigmoid(slope * score + offset[query] - cut_k): the offsets
    pay ``shrinkage`` times their square (a prior worth that many pairs at offset zero)."""
    import torch

    names = sorted(set(queries))
    index = torch.tensor([names.index(q) for q in queries])
    s = torch.tensor(score, dtype=torch.float64)
    y = torch.tensor(column)
    slope = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    offsets = torch.zeros(len(names), dtype=torch.float64, requires_grad=True)
    first = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    gaps = torch.full((grades - 2,), 0.5, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([slope, offsets, first, gaps], max_iter=200, line_search_fn="strong_wolfe")

    def cuts() -> torch.Tensor:
        return torch.cat([first, first + torch.cumsum(torch.nn.functional.softplus(gaps), 0)])

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        at_least = torch.sigmoid(slope * s[:, None] + offsets[index][:, None] - cuts()[None])
        ones, zeros = torch.ones(len(s), 1, dtype=torch.float64), torch.zeros(len(s), 1, dtype=torch.float64)
        bounds = torch.cat([ones, at_least, zeros], dim=1)
        probs = (bounds[:, :-1] - bounds[:, 1:]).clamp_min(1e-9)
        value = -torch.log(probs[torch.arange(len(s)), y]).sum() + shrinkage * (offsets**2).sum()
        value.backward()
        return value

    optimizer.step(loss)
    found = offsets.detach().numpy()
    return (
        float(slope.item()),
        tuple(float(c) for c in cuts().detach().numpy()),
        tuple((name, float(found[i])) for i, name in enumerate(names)),
    )


@dataclass(frozen=True)
class Kept:
    """With a route after adapting, the student labels only the pairs it is surer of. Which sample pairs are like
    those: ``pairs``, a mask over the sample (``kept_like``); and the student that labels them trained on ``grown``
    times the sample (the routed answers teaching it too)."""

    pairs: np.ndarray
    grown: float = 1.0


def kept_like(scores: Sequence[float], share: float) -> np.ndarray:
    """The sample pairs the adapted student would keep if a ``share`` of them were routed, least sure first by their
    routing ``scores`` (the same student's, as it ranked the pairs outside the sample): a mask for :class:`Kept`.

    >>> kept_like([0.1, 0.9, 0.5, 0.2], 0.5).tolist()
    [True, False, False, True]
    """
    keep = np.ones(len(scores), dtype=bool)
    keep[np.argsort(-np.asarray(scores, dtype=float), kind="stable")[: round(share * len(scores))]] = False
    return keep


def cross_fitted(
    probs: np.ndarray,
    queries: Sequence[str],
    teacher: np.ndarray,
    scale: Sequence[int],
    method: str,
    shrinkage: float,
    student_thresholds: Sequence[float] | None,
    folds: int,
    seed: int,
    kept: Kept | None = None,
) -> tuple[np.ndarray, AgreementEstimate]:
    """Each sample pair's grade by an adaptation ``method`` fitted without its fold, and the agreement with the
    teacher that one fitted on the whole sample is expected to reach on the pairs it labels (``cross_fit``)."""

    def grade(name: str, train: np.ndarray, test: np.ndarray) -> np.ndarray:
        subset = [q for q, t in zip(queries, train) if t]
        adapter = fit_adapter(probs[train], subset, teacher[train], scale, method, shrinkage, student_thresholds)
        return adapter.grades(probs[test], [q for q, t in zip(queries, test) if t])

    return cross_fit(queries, teacher, scale, folds, seed, grade, kept)


def cross_fit(
    queries: Sequence[str],
    teacher: np.ndarray,
    scale: Sequence[int],
    folds: int,
    seed: int,
    grade: Callable[[str, np.ndarray, np.ndarray], np.ndarray],
    kept: Kept | None = None,
) -> tuple[np.ndarray, AgreementEstimate]:
    """The out-of-fold grades of the sample pairs (of ``queries``, graded by the ``teacher``) and the agreement with
    the teacher that an adaptation fitted on the whole sample is expected to reach on the pairs it labels:
    ``grade(name, train, test)`` fits an adaptation (named ``fold-K`` or ``half-K``) on the ``train`` pairs and grades
    the ``test`` ones; each fold is fitted on its training pairs and on half of them (``fold_plan``), and each
    statistic is extrapolated from the two to the whole sample (``extrapolated_agreement``), with 95% intervals over
    queries. The out-of-fold agreement alone errs low, each fold having learned from less than the whole sample; it
    is all there is for a plan without halves. With a route after adapting (``kept``), the statistics are of the
    sample pairs like those the student keeps, extrapolated to ``kept.grown`` times the sample."""
    plan = fold_plan(queries, teacher, folds, seed)
    n = len(queries)
    out = {"fold": np.zeros(n, dtype=int), "half": np.zeros(n, dtype=int)}
    for k, fold in enumerate(plan, 1):
        for size, train in fold.sizes():
            out[size][fold.test] = grade(f"{size}-{k}", train, fold.test)
    keep = kept.pairs if kept is not None and kept.pairs.any() else np.ones(n, dtype=bool)  # none kept: all alike
    groups = [q for q, k in zip(queries, keep) if k]
    halves = [f.half for f in plan if f.half is not None]
    if not halves:  # fold_plan halves every fold or none
        return out["fold"], agreement_with_intervals(out["fold"][keep], teacher[keep], groups, scale, seed=seed)
    shares = (float(np.mean([f.train.sum() for f in plan])) / n, float(np.mean([h.sum() for h in halves])) / n)
    grown = kept.grown if kept is not None else 1.0
    estimate = extrapolated_agreement(
        out["fold"][keep], out["half"][keep], shares, teacher[keep], groups, scale, seed=seed, to=grown
    )
    return out["fold"], estimate


@dataclass(frozen=True)
class Fold:
    """One fold of the estimate: the pairs it grades (``test``), the others (``train``), and half of those, drawn
    within each query (``half``), for the learning curve (``None`` where the halves are too small to learn from)."""

    test: np.ndarray
    train: np.ndarray
    half: np.ndarray | None

    def sizes(self) -> list[tuple[str, np.ndarray]]:
        """The training pairs of each adaptation the fold needs: ``fold`` (all of them) and ``half``."""
        return [("fold", self.train)] + ([("half", self.half)] if self.half is not None else [])


def fold_plan(queries: Sequence[str], teacher: np.ndarray, folds: int, seed: int) -> list[Fold]:
    """The estimate's folds of the sample pairs of ``queries`` (``query_folds``), each with half its training pairs,
    or with no halves at all where one would hold fewer than two of the ``teacher``'s grades.

    >>> plan = fold_plan(["q1"] * 6 + ["q2"] * 6, np.array([0, 1] * 6), 3, seed=0)
    >>> [(int(f.test.sum()), int(f.train.sum()), int(f.half.sum())) for f in plan]
    [(4, 8, 4), (4, 8, 4), (4, 8, 4)]
    >>> [f.half for f in fold_plan(["q1"] * 6, np.array([0, 0, 0, 0, 0, 1]), 3, seed=0)]
    [None, None, None]
    """
    fold = query_folds(queries, folds, seed)
    plan = []
    for k in range(folds):
        test, train = fold == k, fold != k
        if not test.any() or not train.any():
            continue
        rows = [i for i, t in enumerate(train) if t]
        half = np.zeros(len(queries), dtype=bool)
        half[np.array(rows)[query_folds([queries[i] for i in rows], 2, seed + k) == 0]] = True
        plan.append((test, train, half))
    usable = all(len(set(teacher[half].tolist())) > 1 and half.sum() < train.sum() for _, train, half in plan)
    return [Fold(test, train, half if usable else None) for test, train, half in plan]


def query_folds(queries: Sequence[str], folds: int, seed: int) -> np.ndarray:
    """Each sample pair's fold: each query's pairs dealt round the folds, from a random start.

    >>> query_folds(["q1"] * 4 + ["q2"] * 2, 2, seed=0).tolist()
    [0, 1, 1, 0, 1, 0]
    """
    rng = random.Random(seed)
    fold = np.zeros(len(queries), dtype=int)
    for query in sorted(set(queries)):
        rows = [i for i, q in enumerate(queries) if q == query]
        rng.shuffle(rows)
        start = rng.randrange(folds)
        for k, i in enumerate(rows):
            fold[i] = (start + k) % folds
    return fold
