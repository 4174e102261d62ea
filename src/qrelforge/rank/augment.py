"""Augmented relevance datasets: a few human labels plus a student's (or teacher's) labels of many more pairs.

Three training sets come from the same labels, for a fair comparison: ``human`` (the human labels alone),
``student`` (the machine's labels alone) and ``both`` (the union; the human label wins where both exist). A machine
label can be required to reach a confidence, its probability of the grade it gave. Every label keeps its provenance:
who gave it, and how sure the machine was. A training-label file is a JSONL that ``replay_judge`` also reads.

>>> from qrelforge import Judgment, Pair, training_labels
>>> human = {Pair("q1", "d1"): 3}
>>> machine = [Judgment("q1", "d1", 1, "student:s:0", probs=(0.1, 0.8, 0.1)),
...            Judgment("q1", "d2", 0, "student:s:0", probs=(0.7, 0.2, 0.1))]
>>> [(t.doc_id, t.grade, t.source) for t in training_labels(human, "human:h:0", machine, (0, 1, 2), "both")]
[('d1', 3, 'human'), ('d2', 0, 'student')]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, InputFormatError
from ..io.files import jsonl_objects, write_jsonl
from ..judges.base import Judge, Texts
from ..records import Judgment, Pair

MIXES = ("human", "student", "both")


@dataclass(frozen=True)
class TrainingLabel:
    query_id: str
    doc_id: str
    grade: int
    source: str  # "human", or the machine's role: "student" or "teacher"
    judge: str  # fingerprint of the judge that gave the grade
    confidence: float | None = None  # the machine's probability of its grade; None for a human label

    @property
    def pair(self) -> Pair:
        return Pair(self.query_id, self.doc_id)


def training_labels(
    human: Mapping[Pair, int],
    human_judge: str,
    machine: Sequence[Judgment],
    machine_scale: Sequence[int],
    mix: str,
    min_confidence: float = 0.0,
    machine_source: str = "student",
) -> list[TrainingLabel]:
    """The ``mix`` training set: human labels, machine labels (failed judgments and those below ``min_confidence``
    left out; their source is ``machine_source``), or both with the human label winning where a pair has both."""
    if mix not in MIXES:
        raise ConfigError(f"training-set mix {mix!r} is not one of {MIXES}")
    people = [TrainingLabel(p.query_id, p.doc_id, g, "human", human_judge) for p, g in sorted(human.items())]
    machines = [
        TrainingLabel(j.query_id, j.doc_id, j.grade, machine_source, j.judge, confidence(j, machine_scale))
        for j in machine
        if j.ok and j.grade is not None
    ]
    if min_confidence > 0:
        if any(m.confidence is None for m in machines):
            raise ConfigError("min_confidence needs the machine's grade probabilities, and some judgments have none")
        machines = [m for m in machines if (m.confidence or 0.0) >= min_confidence]
    if mix == "human":
        return people
    if mix == "student":
        return machines
    return people + [m for m in machines if m.pair not in human]


def augment_job(
    judge: Judge,
    pool: Sequence[Pair],
    texts: Texts,
    human: Mapping[Pair, int],
    human_judge: str,
    out: str | Path,
    min_confidence: float = 0.0,
    progress: bool = True,
) -> dict[str, list[TrainingLabel]]:
    """Label ``pool`` with ``judge`` (resumably, into ``out/machine-labels.txt`` and its store) and write the three
    training sets with provenance, ``out/human.jsonl``, ``student.jsonl`` and ``both.jsonl``; returns them by mix.
    A machine label's source is ``student`` for a trained student (a judge with a card), else ``teacher``."""
    from ..labeling.job import label_job

    out = Path(out)
    labeled = label_job(judge, pool, texts, out / "machine-labels.txt", progress=progress)
    source = "student" if judge.traits.card is not None else "teacher"
    sets = {
        mix: training_labels(human, human_judge, labeled.judgments, judge.scale, mix, min_confidence, source)
        for mix in MIXES
    }
    for mix, labels in sets.items():
        write_training_labels(out / f"{mix}.jsonl", labels)
    return sets


def confidence(judgment: Judgment, scale: Sequence[int]) -> float | None:
    """The judge's probability of the grade it gave, when it reported probabilities."""
    if judgment.probs is None or judgment.grade is None or judgment.grade not in scale:
        return None
    return judgment.probs[list(scale).index(judgment.grade)]


def provenance(labels: Sequence[TrainingLabel]) -> dict[str, int]:
    """How many labels came from each source."""
    return dict(sorted(Counter(label.source for label in labels).items()))


def write_training_labels(path: str | Path, labels: Sequence[TrainingLabel]) -> None:
    """One JSON line per label (``qid``, ``docid``, ``judgment`` as a label file, plus the provenance), atomically."""
    write_jsonl(
        path,
        (
            {
                "qid": t.query_id,
                "docid": t.doc_id,
                "judgment": t.grade,
                "source": t.source,
                "judge": t.judge,
                "confidence": t.confidence,
            }
            for t in labels
        ),
    )


def read_training_labels(path: str | Path) -> list[TrainingLabel]:
    """Labels written by ``write_training_labels`` (or ``qrelforge augment``)."""
    labels = []
    for number, obj in jsonl_objects(path, "training labels"):
        try:
            label = TrainingLabel(
                str(obj["qid"]), str(obj["docid"]), obj["judgment"], obj["source"], obj["judge"], obj.get("confidence")
            )
        except KeyError as missing:
            raise InputFormatError(
                path,
                number,
                "a training label written by 'qrelforge augment' (qid, docid, judgment, source, judge)",
                f"no {missing}",
            ) from None
        if not isinstance(label.grade, int) or isinstance(label.grade, bool):
            raise InputFormatError(path, number, "an integer grade under 'judgment'", repr(label.grade))
        labels.append(label)
    return labels
