"""The one labeling job: any Judge over a pair set, into a judgment store and label files, and back to the caller.

A job whose TREC labels go to ``LABELS`` keeps its files beside them (``LabelFiles``, the one home of their names):
``LABELS.judgments.jsonl`` (the store: every judgment with its status, probabilities and raw answer, appended as it
is made, so a rerun resumes), ``LABELS.soft.jsonl`` (the grades with their probabilities, where the judge gives them)
and, on Ray, ``LABELS.shards/``. The judge comes from a spec (``load_judge``): a student folder, a teacher YAML, a
label file, or ``human`` for the dataset's own qrels.

>>> from qrelforge import label_job, load_dataset, load_judge
>>> demo = load_dataset("dl20-demo")
>>> teacher = load_judge(str(demo.folder / "teacher-gpt-4o-umbrela.txt"), demo)
>>> import tempfile; out = tempfile.mkdtemp()
>>> labeled = label_job(teacher, demo.pairs[:50], f"{out}/labels.txt", progress=False)
>>> len(labeled.grades), labeled.row(demo.qrels).agreement.n
(50, 50)
"""
from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..datasets import Dataset
from ..errors import ConfigError
from ..evaluate.agreement import JudgeRow, judge_row
from ..io.store import JudgmentStore
from ..io.trec import write_qrels
from ..judges.base import Judge
from ..judges.replay import human_judge, replay_judge, write_label_jsonl
from ..records import Judgment, Pair, graded
from ..students.config import EngineSettings
from .config import RayOptions
from .local import LabelRun, label

TEACHER_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LabelFiles:
    """The files of the labeling job whose TREC labels are ``labels``."""

    labels: Path

    def beside(self, suffix: str) -> Path:
        return self.labels.with_name(self.labels.name + suffix)

    @property
    def store(self) -> Path:
        return self.beside(".judgments.jsonl")

    @property
    def soft(self) -> Path:
        return self.beside(".soft.jsonl")

    @property
    def shards(self) -> Path:
        return self.beside(".shards")

    @property
    def provenance(self) -> Path:
        """A routed job's one row per pair: the merged grade, its source, both judges' answers."""
        return self.beside(".provenance.jsonl")

    @property
    def assessor_log(self) -> Path:
        """The review page's grades, one fsynced line each, the last of a pair winning."""
        return self.beside(".assessor.log.jsonl")

    @property
    def assessor_qrels(self) -> Path:
        return self.beside(".assessor.txt")

    @property
    def assessor_labels(self) -> Path:
        """The assessor's grades as a label JSONL with provenance (source, note, the label it replaces)."""
        return self.beside(".assessor.jsonl")

    @property
    def job(self) -> Path:
        """A routed job's settings: the judges, the dataset, the routing score and budget."""
        return self.beside(".job.json")

    @property
    def all(self) -> list[Path]:
        """Every file of the job (the Ray engine's shard folder aside): none of them may be one of its inputs."""
        return [self.labels, self.store, self.soft, self.provenance, self.job, self.assessor_log, self.assessor_qrels,
                self.assessor_labels]


@dataclass(frozen=True)
class Labeled:
    """What a labeling job labeled: every stored judgment of the pairs asked for (this run's and earlier ones')."""

    judge: Judge
    pairs: list[Pair]  # the distinct pairs asked for
    judgments: list[Judgment]  # sorted by pair; failed ones keep their status and have no grade
    run: LabelRun
    files: LabelFiles

    @property
    def grades(self) -> dict[Pair, int]:
        return graded(self.judgments)

    def row(self, qrels: Mapping[Pair, int], name: str | None = None) -> JudgeRow:
        """This job's agreement with ``qrels`` (and its speed), as one report row named ``name`` or the judge."""
        return judge_row(name or self.judge.fingerprint, self.grades, qrels, self.run.pairs_per_second or None)


def label_job(judge: Judge, pairs: Sequence[Pair], out: str | Path, *, store: JudgmentStore | None = None,
              ray: RayOptions | None = None, budget: float | None = None, progress: bool = True) -> Labeled:
    """Label ``pairs`` with ``judge`` into ``store`` (default: ``LabelFiles(out).store``), then write the labels.

    ``ray`` runs a student on a Ray cluster instead of in this process; ``budget`` (US$) caps a billed judge's spend.
    """
    files = LabelFiles(Path(out))
    pairs = list(dict.fromkeys(pairs))
    with contextlib.nullcontext(store) if store else JudgmentStore(files.store) as store:
        if ray is not None:
            from ..students.student import Student
            from .ray import label_with_ray

            if not isinstance(judge, Student):
                raise ConfigError(f"the ray engine labels with a trained student; {judge.fingerprint} is not one")
            run = label_with_ray(judge.model_dir, judge.dataset, pairs, store, files.shards, judge.settings, ray,
                                 progress=progress)
        else:
            run = label(judge, pairs, store, progress=progress, budget=budget)
        judgments = store.judgments(run.judge, pairs)
    write_qrels(files.labels, graded(judgments))
    if any(j.probs for j in judgments):
        write_label_jsonl(files.soft, judgments, judge.scale)
    return Labeled(judge, pairs, judgments, run, files)


def load_judge(spec: str | Path, dataset: Dataset, pairs: Sequence[Pair] = (),
               settings: EngineSettings = EngineSettings()) -> Judge:
    """The judge a spec names, over ``dataset``'s texts: ``human`` (the dataset's qrels), a student folder, a teacher
    YAML file (its few-shot examples never from the queries of ``pairs``), or a label file replayed as a judge."""
    path = Path(spec)
    if str(spec) == "human" and not path.exists():
        return human_judge(dataset)
    if path.is_dir():
        from ..students.student import load_student

        return load_student(path, dataset, settings)
    if path.suffix in TEACHER_SUFFIXES:
        from ..judges.load import load_teacher
        from ..llm.config import load_teacher_config

        return load_teacher(load_teacher_config(path), dataset, pairs)
    return replay_judge(path, dataset.grades)
