"""Training examples from a teacher's judgments, and the split by query that keeps validation honest.

>>> from qrelforge import load_dataset, teacher_examples
>>> training = teacher_examples([load_dataset("dl20-demo")])  # no teacher: the human qrels teach
>>> len(training.examples), training.statuses
(4320, {'ok': 4320})
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..datasets import Dataset, split_queries
from ..errors import ConfigError
from ..judges.base import Batch, Judge
from ..judges.replay import human_judge


@dataclass(frozen=True)
class Example:
    group: str  # "dataset/query_id": examples of one query never straddle train and validation
    doc_id: str
    query: str
    doc: str
    grade: int
    probs: Mapping[int, float] | None = None  # the teacher's probability of each grade, when it gave them


@dataclass(frozen=True)
class TrainingSet:
    examples: list[Example]
    teachers: tuple[str, ...]  # fingerprints of the judges whose grades are the targets
    datasets: tuple[str, ...]
    statuses: dict[str, int]  # how many teacher judgments had each status; only "ok" ones train


def teacher_examples(datasets: Sequence[Dataset], teacher: Judge | None = None) -> TrainingSet:
    """The teacher grades every judged pair of each dataset; without a teacher, the human qrels teach."""
    examples: list[Example] = []
    statuses: Counter[str] = Counter()
    teachers: list[str] = []
    for dataset in datasets:
        judge = teacher or human_judge(dataset)
        teachers.append(judge.fingerprint)
        for j in judge.judge(Batch(dataset.pairs, dataset)):
            statuses[j.status] += 1
            if j.ok and j.grade is not None:
                probs = dict(zip(judge.scale, j.probs)) if j.probs else None
                examples.append(
                    Example(
                        f"{dataset.name}/{j.query_id}",
                        j.doc_id,
                        dataset.queries[j.query_id],
                        dataset.docs[j.doc_id],
                        j.grade,
                        probs,
                    )
                )
    if not examples:
        raise ConfigError(
            f"the teacher graded none of the {sum(statuses.values())} pairs of "
            f"{[d.name for d in datasets]} (statuses {dict(statuses)}): do its ids match the datasets?"
        )
    return TrainingSet(examples, tuple(dict.fromkeys(teachers)), tuple(d.name for d in datasets), dict(statuses))


def split_by_query(examples: Sequence[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Hold out ``fraction`` of the queries (at least one; never part of a query) for validation."""
    groups = {e.group for e in examples}
    if len(groups) < 2:
        raise ConfigError(f"training needs at least 2 queries to hold one out for validation; got {len(groups)}")
    held = set(split_queries(groups, fraction, seed)[1])
    return [e for e in examples if e.group not in held], [e for e in examples if e.group in held]
