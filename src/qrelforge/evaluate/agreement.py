"""Agreement of a judge's grades with human qrels on the pairs both have, and of several judges with one another.

>>> from qrelforge import Pair, agreement
>>> human = {Pair("q1", "d1"): 0, Pair("q1", "d2"): 2, Pair("q1", "d3"): 3}
>>> agreement({Pair("q1", "d1"): 0, Pair("q1", "d2"): 2}, human).missing_labels
1
>>> members_agreement({"a": human, "b": human}).fleiss_kappa
1.0
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

from ..errors import QrelforgeError
from ..records import Pair


@dataclass(frozen=True)
class Agreement:
    """How well ``labels`` agree with human ``qrels``. Confusion rows are human grades, columns the judge's."""

    n: int
    missing_labels: int  # human-judged pairs the judge gave no grade
    missing_qrels: int  # pairs the judge graded that humans did not
    cohen_kappa: float | None
    kappa_ge1: float | None
    kappa_ge2: float | None
    krippendorff_alpha: float | None
    accuracy: float
    spearman: float | None
    grades: tuple[int, ...]
    confusion: tuple[tuple[int, ...], ...]
    label_histogram: dict[int, int]
    qrels_histogram: dict[int, int]

    @property
    def missing(self) -> int:
        """Pairs on one side only, both directions counted."""
        return self.missing_labels + self.missing_qrels

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "missing": self.missing}


def agreement(labels: Mapping[Pair, int], qrels: Mapping[Pair, int]) -> Agreement:
    """Kappa (4-class, and binarized at >=1 and >=2), ordinal alpha, accuracy, Spearman and confusion."""
    import numpy as np

    common = sorted(set(labels) & set(qrels))
    if not common:
        raise QrelforgeError(
            f"no pair is graded by both sides ({len(labels)} labels, {len(qrels)} qrels): "
            "are the ids from the same collection?"
        )
    judge = np.array([labels[p] for p in common])
    human = np.array([qrels[p] for p in common])
    grades = tuple(sorted(set(judge.tolist()) | set(human.tolist())))
    with warnings.catch_warnings():  # an undefined statistic (one grade only) is reported as None, not warned about
        warnings.simplefilter("ignore")
        return _agreement(labels, qrels, common, judge, human, grades)


def _agreement(
    labels: Mapping[Pair, int],
    qrels: Mapping[Pair, int],
    common: list[Pair],
    judge: Any,
    human: Any,
    grades: tuple[int, ...],
) -> Agreement:
    import krippendorff
    import numpy as np
    from scipy.stats import spearmanr
    from sklearn.metrics import cohen_kappa_score, confusion_matrix

    return Agreement(
        n=len(common),
        missing_labels=len(qrels.keys() - labels.keys()),
        missing_qrels=len(labels.keys() - qrels.keys()),
        cohen_kappa=_finite(cohen_kappa_score(human, judge, labels=list(grades))),
        kappa_ge1=_finite(cohen_kappa_score(human >= 1, judge >= 1, labels=[False, True])),
        kappa_ge2=_finite(cohen_kappa_score(human >= 2, judge >= 2, labels=[False, True])),
        krippendorff_alpha=_finite(
            krippendorff.alpha(
                reliability_data=np.vstack([human, judge]).astype(float),
                level_of_measurement="ordinal",
                value_domain=list(grades),
            )
        )
        if len(grades) > 1
        else None,
        accuracy=float((human == judge).mean()),
        spearman=_finite(spearmanr(human, judge).statistic) if len(set(judge)) > 1 and len(set(human)) > 1 else None,
        grades=grades,
        confusion=tuple(tuple(int(c) for c in row) for row in confusion_matrix(human, judge, labels=list(grades))),
        label_histogram=dict(sorted(Counter(judge.tolist()).items())),
        qrels_histogram=dict(sorted(Counter(human.tolist()).items())),
    )


@dataclass(frozen=True)
class JudgeRow:
    """One line of a report: a judge's agreement with the reference, and how fast it labeled."""

    judge: str
    agreement: Agreement
    pairs_per_second: float | None = None


def judge_row(
    name: str, labels: Mapping[Pair, int], qrels: Mapping[Pair, int], pairs_per_second: float | None = None
) -> JudgeRow:
    """The report row of a judge's grades against ``qrels``: the one way rows are made."""
    return JudgeRow(name, agreement(labels, qrels), pairs_per_second)


@dataclass(frozen=True)
class MembersAgreement:
    """How well several judges (a panel's members) agree with one another: Cohen's kappa of each two on the pairs
    both graded, Fleiss' kappa on the pairs every one graded, and ordinal Krippendorff's alpha over every pair (a
    missing grade is missing data)."""

    judges: tuple[str, ...]
    pairwise_kappa: dict[tuple[str, str], float | None]
    fleiss_kappa: float | None
    krippendorff_alpha: float | None
    pairs_all_graded: int  # the pairs Fleiss' kappa is measured on
    pairs: int  # pairs graded by at least one judge


def members_agreement(grades: Mapping[str, Mapping[Pair, int]]) -> MembersAgreement:
    """The agreement among the judges named by the keys of ``grades`` (each judge's grades by pair)."""
    import krippendorff
    import numpy as np
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    names = tuple(grades)
    if len(names) < 2:
        raise QrelforgeError(f"agreement among judges needs two or more; got {len(names)}")
    pairs = sorted(set().union(*(g.keys() for g in grades.values())))
    scale = sorted({g for judge in grades.values() for g in judge.values()})
    pairwise = {}
    with warnings.catch_warnings():  # an undefined statistic (one grade only) is reported as None
        warnings.simplefilter("ignore")
        for a, b in combinations(names, 2):
            both = sorted(grades[a].keys() & grades[b].keys())
            pairwise[(a, b)] = (
                _finite(cohen_kappa_score([grades[a][p] for p in both], [grades[b][p] for p in both], labels=scale))
                if both
                else None
            )
        complete = [p for p in pairs if all(p in grades[n] for n in names)]
        table = aggregate_raters(np.array([[grades[n][p] for n in names] for p in complete]), n_cat=None)[0]
        fleiss = _finite(fleiss_kappa(table)) if complete else None
        data = np.array([[grades[n].get(p, np.nan) for p in pairs] for n in names], dtype=float)
        alpha = (
            _finite(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal", value_domain=scale))
            if len(scale) > 1
            else None
        )
    return MembersAgreement(names, pairwise, fleiss, alpha, len(complete), len(pairs))


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
