"""The one labeling job: any Judge over a pair set, into a judgment store and label files, and back to the caller.

A job whose TREC labels go to ``LABELS`` keeps its files beside them (``LabelFiles``, the one home of their names):
``LABELS.judgments.jsonl`` (the store: every judgment with its status, probabilities and raw answer, appended as it
is made, so a rerun resumes), ``LABELS.soft.jsonl`` (the grades with their probabilities, where the judge gives them)
and, on Ray, ``LABELS.shards/``. The judge comes from a spec (``load_judge``): a student folder, a teacher YAML, a
label file, or ``human`` for the dataset's own qrels.

``label_job`` is the one path every labeling takes — the CLI, the cascade (``route.py``), filling a run (``fill.py``),
adaptation, PyTerrier, the pipeline and the benchmarks — and the one place that reads a store back (as does
``stored_judgments`` for the jobs that only show or convert finished labels: review and export).

>>> from qrelforge import label_job, load_dataset, load_judge
>>> demo = load_dataset("dl20-demo")
>>> teacher = load_judge(str(demo.folder / "teacher-gpt-4o-umbrela.txt"), demo)
>>> import tempfile; out = tempfile.mkdtemp()
>>> labeled = label_job(teacher, demo.pairs[:50], demo, f"{out}/labels.txt", progress=False)
>>> len(labeled.grades), labeled.row(demo.qrels).agreement.n
(50, 50)
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..datasets import Dataset
from ..errors import ConfigError
from ..evaluate.agreement import JudgeRow, judge_row
from ..io.store import JudgmentStore, read_judgments
from ..io.trec import write_qrels
from ..judges.base import Judge, Texts
from ..judges.cost import Budget, Plan, plan
from ..judges.replay import human_judge, replay_judge, write_label_jsonl
from ..records import Answer, Judgment, Pair, graded
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

    def member_store(self, fingerprint: str) -> Path:
        """The store of one judge of a panel or an audit (named by its fingerprint: each judge resumes alone)."""
        return self.beside("." + re.sub(r"[^\w.-]+", "_", fingerprint) + ".judgments.jsonl")

    @property
    def audit_table(self) -> Path:
        """An audit's ranking of the human-judged pairs, the most suspect first (``LABELS`` ending in .tsv: itself)."""
        return self.labels if self.labels.suffix == ".tsv" else self.beside(".tsv")

    @property
    def corrected_qrels(self) -> Path:
        """An audited qrels file with the assessor's corrections (the original is never changed)."""
        return self.beside(".corrected.txt")

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
    def adapt(self) -> Path:
        """An adapted job's report: the sample, the adaptation and its estimated agreement with the teacher."""
        return self.beside(".adapt.json")

    @property
    def finetune(self) -> Path:
        """The folder of a ``finetune`` adaptation's students (the whole sample's, and one per fold)."""
        return self.beside(".finetune")

    @property
    def all(self) -> list[Path]:
        """Every file of the job (the Ray engine's shard folder aside): none of them may be one of its inputs."""
        return [
            self.labels,
            self.store,
            self.soft,
            self.provenance,
            self.job,
            self.assessor_log,
            self.assessor_qrels,
            self.assessor_labels,
            self.audit_table,
            self.corrected_qrels,
        ]


@dataclass(frozen=True)
class Labeled:
    """What a labeling job labeled: every stored judgment of the pairs asked for (this run's and earlier ones')."""

    judge: Judge
    pairs: list[Pair]  # the distinct pairs asked for
    judgments: list[Judgment]  # sorted by pair; failed ones keep their status and have no grade
    run: LabelRun
    files: LabelFiles | None  # None for a job that wrote only its store

    @property
    def grades(self) -> dict[Pair, int]:
        return graded(self.judgments)

    def row(self, qrels: Mapping[Pair, int], name: str | None = None) -> JudgeRow:
        """This job's agreement with ``qrels`` (and its speed), as one report row named ``name`` or the judge."""
        return judge_row(name or self.judge.fingerprint, self.grades, qrels, self.run.pairs_per_second or None)


def label_job(
    judge: Judge,
    pairs: Sequence[Pair],
    texts: Texts,
    out: str | Path | None = None,
    *,
    store: JudgmentStore | str | Path | None = None,
    ray: RayOptions | None = None,
    budget: Budget | None = None,
    progress: bool = True,
) -> Labeled:
    """Label ``pairs`` (read with ``texts``) with ``judge``, in this process or on a Ray cluster (``ray``), into a
    judgment store, and give back every stored judgment of them; ``budget`` caps what the judge may do.

    With ``out`` (LABELS), the store is the one beside it unless ``store`` says otherwise, and LABELS (TREC) and, for
    a judge with probabilities, ``LABELS.soft.jsonl`` are written. Without ``out`` only the store is written:
    ``store`` is then an open JudgmentStore or its path (the cascade and filling merge several answers so).
    """
    files = LabelFiles(Path(out)) if out is not None else None
    where = store if store is not None else files.store if files else None
    if where is None:
        raise ConfigError("label_job needs LABELS (out) or a judgment store to write to")
    pairs = list(dict.fromkeys(pairs))
    with contextlib.nullcontext(where) if isinstance(where, JudgmentStore) else JudgmentStore(where) as opened:
        if ray is not None:
            from .ray import label_with_ray

            shards = files.shards if files else opened.path.with_name(opened.path.name + ".shards")
            run = label_with_ray(judge, pairs, texts, opened, shards, ray, progress=progress, budget=budget)
        else:
            run = label(judge, pairs, texts, opened, progress=progress, budget=budget)
        judgments = opened.judgments(judge.fingerprint, pairs)
    if files is not None:
        write_qrels(files.labels, graded(judgments))
        if judge.traits.probabilities and any(j.probs for j in judgments):
            write_label_jsonl(files.soft, judgments, judge.scale)
    return Labeled(judge, pairs, judgments, run, files)


def label_each(
    judges: Sequence[Judge],
    pairs: Sequence[Pair],
    texts: Texts,
    files: LabelFiles,
    ray: RayOptions | None = None,
    progress: bool = True,
) -> list[Labeled]:
    """Each of several judges (a panel's, an audit's) labels ``pairs`` into its own store beside ``files``, so each
    resumes and is reused alone."""
    if len({j.fingerprint for j in judges}) < len(judges):
        raise ConfigError("the judges of a panel or an audit must differ: the same judge was given twice")
    return [
        label_job(j, pairs, texts, store=files.member_store(j.fingerprint), ray=ray, progress=progress) for j in judges
    ]


def answers_by_pair(jobs: Sequence[Labeled]) -> dict[Pair, tuple[Answer, ...]]:
    """Each pair of the jobs, with one answer per job in order (a job without a judgment of it: ``no_label``)."""
    by_job = [{j.pair: j for j in job.judgments} for job in jobs]
    return {
        pair: tuple(
            Answer.of(mine[pair], job.judge.scale) if pair in mine else Answer(job.judge.fingerprint, None, "no_label")
            for mine, job in zip(by_job, jobs)
        )
        for pair in jobs[0].pairs
    }


def plan_job(judge: Judge, pairs: Sequence[Pair], texts: Texts, out: str | Path) -> Plan:
    """What labeling ``pairs`` into LABELS ``out`` would request and cost, asking nothing (answers already in its
    store are not asked again)."""
    with JudgmentStore(LabelFiles(Path(out)).store) as store:
        return plan(judge, pairs, texts, store)


def stored_judgments(store: str | Path) -> dict[str, list[Judgment]]:
    """A finished job's judgments by judge fingerprint, each sorted by pair; read without writing or locking the
    store (review and export show and convert labels; they label nothing)."""
    by_judge: dict[str, list[Judgment]] = {}
    for judgment in sorted(read_judgments(store), key=lambda j: (j.judge, j.pair)):
        by_judge.setdefault(judgment.judge, []).append(judgment)
    return by_judge


def load_judge(
    spec: str | Path, dataset: Dataset, pairs: Sequence[Pair] = (), settings: EngineSettings = EngineSettings()
) -> Judge:
    """The judge a spec names: ``human`` (``dataset``'s qrels), a student folder, a teacher YAML file (its few-shot
    examples never from the queries of ``pairs``), or a label file replayed as a judge (on ``dataset``'s scale)."""
    path = Path(spec)
    if str(spec) == "human" and not path.exists():
        return human_judge(dataset)
    if path.is_dir():
        from ..students.student import load_student

        return load_student(path, settings)
    if path.suffix in TEACHER_SUFFIXES:
        from ..judges.load import load_teacher
        from ..llm.config import load_teacher_config

        return load_teacher(load_teacher_config(path), pairs)
    return replay_judge(path, dataset.grades)
