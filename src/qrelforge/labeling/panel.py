"""A panel of judges: several judges (students, teachers, label files) label the same pairs, each into its own store,
and one rule combines their grades into the panel's.

The rules, over the grades of the members that gave one (a member whose judgment failed does not vote):
- ``majority``: the most frequent grade; a tie goes to the lowest of the tied grades;
- ``mean``: the mean grade, rounded to the nearest grade, a half rounded down;
- ``median``: the median grade; of an even number of votes, the lower middle one.
Ties and halves go down: a panel does not call a pair more relevant than its members agree it is. A pair needs a
quorum of votes — by default half the members, rounded up (2 of 3) — or it gets no grade (its provenance row keeps
every member's answer and ``"grade": null``).

>>> [combine(votes, rule) for rule in PANEL_RULES for votes in ([1, 2, 2], [1, 2])]
[2, 1, 2, 1, 2, 1]
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..datasets import Dataset
from ..errors import ConfigError
from ..evaluate.agreement import MembersAgreement, members_agreement
from ..io.files import write_atomic, write_jsonl
from ..io.trec import write_qrels
from ..judges.base import Judge
from ..records import Answer, Pair, Provenance
from .config import RayOptions
from .job import Labeled, LabelFiles, answers_by_pair, label_each

PANEL_RULES = ("majority", "mean", "median")


def combine(votes: Sequence[int], rule: str) -> int:
    """The panel's grade from its members' ``votes`` (at least one) by ``rule`` (one of ``PANEL_RULES``)."""
    if not votes:
        raise ValueError("a panel's grade needs at least one vote")
    if rule == "majority":
        counts = Counter(votes)
        return min(g for g, n in counts.items() if n == max(counts.values()))
    if rule == "mean":
        return math.ceil(sum(votes) / len(votes) - 0.5)
    if rule == "median":
        return sorted(votes)[(len(votes) - 1) // 2]
    raise ConfigError(f"panel rule {rule!r} is not one of {PANEL_RULES}")


@dataclass(frozen=True)
class Paneled:
    """A panel's outcome: its grades, each pair's provenance (every member's answer), the members' jobs."""

    labels: dict[Pair, int]
    provenance: list[Provenance]  # one per pair, in pair order
    members: list[Labeled]  # each member's labeling job, in the order given
    rule: str
    quorum: int
    files: LabelFiles

    @property
    def agreement(self) -> MembersAgreement:
        """The members' agreement with one another."""
        return members_agreement({m.judge.fingerprint: m.grades for m in self.members})

    @property
    def ungraded(self) -> int:
        """Pairs without a quorum of votes."""
        return sum(row.grade is None for row in self.provenance)


def panel_job(
    members: Sequence[Judge],
    pairs: Sequence[Pair],
    texts: Dataset,
    out: str | Path,
    rule: str = "majority",
    quorum: int | None = None,
    ray: RayOptions | None = None,
    progress: bool = True,
) -> Paneled:
    """Label ``pairs`` with every judge of ``members`` (each into its own store beside ``out``, so each resumes
    alone), combine their grades by ``rule``, and write the panel's TREC labels to ``out``, one provenance row per
    pair beside them (every member's answer) and the job's settings.

    >>> from qrelforge import load_dataset, load_judge
    >>> demo = load_dataset("dl20-demo")
    >>> judges = [load_judge(str(demo.folder / "teacher-gpt-4o-umbrela.txt"), demo), load_judge("human", demo)]
    >>> import tempfile; out = tempfile.mkdtemp() + "/panel.txt"
    >>> panel = panel_job(judges, demo.pairs[:40], demo, out, "median", progress=False)
    >>> len(panel.labels), panel.agreement.pairs_all_graded
    (40, 40)
    """
    if rule not in PANEL_RULES:
        raise ConfigError(f"panel rule {rule!r} is not one of {PANEL_RULES}")
    if len(members) < 2:
        raise ConfigError(f"a panel needs two or more judges; got {len(members)}")
    for member in members:
        if not set(member.scale) <= set(texts.grades):
            raise ConfigError(
                f"a panel's judges grade on the dataset's scale {list(texts.grades)}; {member.fingerprint} uses "
                f"{list(member.scale)}"
            )
    quorum = quorum if quorum is not None else math.ceil(len(members) / 2)
    if not 1 <= quorum <= len(members):
        raise ConfigError(f"a panel's quorum is 1 to {len(members)} votes; got {quorum}")
    files = LabelFiles(Path(out))
    jobs = label_each(members, pairs, texts, files, ray, progress)
    provenance = [panel_provenance(pair, answers, rule, quorum) for pair, answers in answers_by_pair(jobs).items()]
    labels = {row.pair: row.grade for row in provenance if row.grade is not None}
    write_jsonl(files.provenance, (row.to_json() for row in provenance))
    settings = {
        "panel": rule,
        "quorum": quorum,
        "members": [m.fingerprint for m in members],
        "dataset": str(texts.folder or ""),
    }
    write_atomic(files.job, json.dumps(settings, indent=2) + "\n")
    write_qrels(files.labels, labels)
    return Paneled(labels, provenance, jobs, rule, quorum, files)


def panel_provenance(pair: Pair, answers: Sequence[Answer], rule: str, quorum: int) -> Provenance:
    """One pair's panel row: the combined grade (None without a quorum of votes) and every member's answer."""
    votes = [a.grade for a in answers if a.status == "ok" and a.grade is not None]
    grade = combine(votes, rule) if len(votes) >= quorum else None
    return Provenance(pair, grade, "panel", f"panel:{rule}", members=tuple(answers))
