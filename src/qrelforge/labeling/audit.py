"""Auditing human qrels: judges label the human-judged pairs, and the pairs whose human grade the judges find least
likely come first, for an assessor to look at again.

A pair's audit score is the probability the judges put on grades other than the human one, averaged over the judges
that answered (under each one's calibrated probabilities; a judge without probabilities puts all its mass on its
grade). Equal scores — all disagreeing judges that give only a grade — are ordered by the judges' mean expected
distance from the human grade, in grade steps (a slip from 3 to 0 before a 1-or-2 doubt). A judge whose judgment
failed does not count; a pair no judge answered scores 0. On DL20 with 5% of the grades flipped at random, the mass
off the human grade found more of the flips than the expected distance alone (benchmarks/RESULTS.md, issue 27).

The audit writes ``AUDIT.tsv`` (one row per pair, the most suspect first), ``AUDIT.provenance.jsonl`` (which
``qrelforge review --labels AUDIT`` shows, in that order, the human grade beside the judges') and ``AUDIT.job.json``.
The assessor's corrections export as ``AUDIT.corrected.txt``: the audited qrels with the corrected grades; the
original qrels file is never written.

>>> judges = [Answer("a", 2, probs={0: 0.1, 1: 0.2, 2: 0.7}), Answer("b", 0)]
>>> round(audit_score(judges, human=0), 4), round(audit_distance(judges, human=0), 4)
(0.45, 0.8)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..datasets import Dataset
from ..errors import ConfigError
from ..io.files import write_atomic, write_jsonl
from ..judges.base import Judge
from ..records import Answer, Pair, Provenance
from .config import RayOptions
from .job import Labeled, LabelFiles, answers_by_pair, label_each


def audit_score(answers: Sequence[Answer], human: int) -> float:
    """The judges' mean probability of a grade other than the ``human`` one (0 without an answering judge)."""
    return _mean(answers, lambda grade: float(grade != human))


def audit_distance(answers: Sequence[Answer], human: int) -> float:
    """The judges' mean expected distance from the ``human`` grade, in grade steps: what orders equal scores."""
    return _mean(answers, lambda grade: float(abs(grade - human)))


def _mean(answers: Sequence[Answer], cost: Callable[[int], float]) -> float:
    """The mean over the answering judges of ``cost`` expected under each one's probabilities (or at its grade)."""
    values = [
        sum(p * cost(g) for g, p in a.probs.items()) if a.probs else cost(a.grade)
        for a in answers
        if a.status == "ok" and a.grade is not None
    ]
    return sum(values) / len(values) if values else 0.0


@dataclass(frozen=True)
class Audit:
    """An audit's outcome: every human-judged pair with the judges' answers and its score, the most suspect first."""

    rows: list[Provenance]  # grade: the human grade; members: the judges' answers; audit: the score
    judges: list[Labeled]
    files: LabelFiles

    def top(self, share: float) -> list[Pair]:
        """The most suspect ``share`` of the pairs."""
        return [row.pair for row in self.rows[: round(share * len(self.rows))]]


def audit_job(
    judges: Sequence[Judge],
    qrels: Mapping[Pair, int],
    texts: Dataset,
    out: str | Path,
    ray: RayOptions | None = None,
    progress: bool = True,
) -> Audit:
    """Label the pairs of the human ``qrels`` with each judge (its own store beside ``out``), rank them by audit
    score and write the table, the provenance and the job's settings beside ``out``.

    >>> from qrelforge import load_dataset, load_judge
    >>> demo = load_dataset("dl20-demo")
    >>> qrels = dict(list(demo.qrels.items())[:60])
    >>> judge = load_judge(str(demo.folder / "teacher-gpt-4o-umbrela.txt"), demo)
    >>> import tempfile; out = tempfile.mkdtemp() + "/audit"
    >>> audit = audit_job([judge], qrels, demo, out, progress=False)
    >>> len(audit.rows), audit.rows[0].audit >= audit.rows[-1].audit
    (60, True)
    """
    if not judges:
        raise ConfigError("an audit needs one judge or more (--judge)")
    if not qrels:
        raise ConfigError("nothing to audit: the qrels hold no pairs")
    files = LabelFiles(Path(out))
    pairs = sorted(qrels)
    jobs = label_each(judges, pairs, texts, files, ray, progress)
    rows = [
        Provenance(pair, qrels[pair], "human", members=theirs, audit=audit_score(theirs, qrels[pair]))
        for pair, theirs in answers_by_pair(jobs).items()
    ]
    rows.sort(key=lambda row: (-(row.audit or 0.0), -audit_distance(row.members, qrels[row.pair]), row.pair))
    write_jsonl(files.provenance, (row.to_json() for row in rows))
    write_atomic(files.audit_table, audit_table(rows, [j.fingerprint for j in judges]))
    settings = {"audit": True, "judges": [j.fingerprint for j in judges], "dataset": str(texts.folder or "")}
    write_atomic(files.job, json.dumps(settings, indent=2) + "\n")
    return Audit(rows, jobs, files)


def audit_table(rows: Sequence[Provenance], judges: Sequence[str]) -> str:
    """``AUDIT.tsv``: rank, pair, human grade, score, expected distance, and each judge's grade and probabilities
    (``g:p`` by grade), in columns named ``grade:JUDGE`` and ``probs:JUDGE``."""
    header = ["rank", "qid", "docid", "human", "score", "distance"]
    header += [f"{c}:{name}" for name in judges for c in ("grade", "probs")]
    lines = ["\t".join(header)]
    for rank, row in enumerate(rows, 1):
        distance = audit_distance(row.members, row.grade or 0)
        cells = [str(rank), row.pair.query_id, row.pair.doc_id, str(row.grade), f"{row.audit or 0.0:.4f}"]
        cells.append(f"{distance:.4f}")
        for answer in row.members:
            probs = " ".join(f"{g}:{p:.3f}" for g, p in sorted(answer.probs.items())) if answer.probs else ""
            cells += ["" if answer.grade is None else str(answer.grade), probs]
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"
