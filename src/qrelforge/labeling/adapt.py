"""Labels that fit the collection they label: the student labels every pair, the teacher grades a small sample of
them, the student adapts to that sample and labels the rest, and ``LABELS.adapt.json`` says how well the adapted
labels are expected to agree with the teacher (``labeling/adaptation.py`` has the statistics).

The sample keeps the teacher's grades; ``LABELS.provenance.jsonl`` says per pair who graded it (``teacher`` or
``student``), with the adapted student's answer. With ``route`` the adapted student's least sure pairs then go to a
teacher too (a pair the teacher already answered is never asked again); a fine-tuned student routed to its own
teacher then learns those answers too, once more from its start, and labels the pairs left. Everything is in the
job's store, so a rerun asks nothing and gives the same labels.

>>> from qrelforge import Budget, load_dataset, replay_judge  # doctest: +SKIP
>>> demo = load_dataset("dl20-demo")  # doctest: +SKIP
>>> gpt4o = replay_judge(demo.folder / "teacher-gpt-4o-umbrela.txt")  # doctest: +SKIP
>>> adapted = adapt_job(student, gpt4o, demo.pairs, demo, "labels.txt", Budget.parse("10%"))  # doctest: +SKIP
>>> adapted.estimate.values["kappa"], adapted.estimate.intervals["kappa"]  # doctest: +SKIP
(0.41, (0.35, 0.47))
>>> # (skipped: it needs a trained student; tests/test_adapt.py runs it)
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from ..datasets import Dataset
from ..errors import ConfigError
from ..evaluate.intervals import AgreementEstimate
from ..fingerprint import make_fingerprint, settings_hash
from ..io.files import write_atomic, write_jsonl
from ..io.store import JudgmentStore
from ..io.trec import write_qrels
from ..judges.base import Judge
from ..judges.cost import Budget, worst_cost
from ..records import Judgment, Pair, Provenance
from ..students.base import expected_grade
from ..students.config import EngineSettings
from .adaptation import (
    Adapter,
    Kept,
    cross_fit,
    cross_fitted,
    draw_sample,
    fit_adapter,
    kept_like,
    matched_cuts,
)
from .config import DEFAULT_ROUTING, AdaptConfig, RayOptions
from .job import LabelFiles, label_job
from .local import LabelRun
from .route import choose, routed_provenance, source_counts, uncertainty


@dataclass(frozen=True)
class Route:
    """Where an adapted job sends its least sure pairs: a teacher, within a budget, by a routing score."""

    teacher: Judge
    budget: Budget
    score: str = DEFAULT_ROUTING


@dataclass(frozen=True)
class Adapted:
    """An adapted job's outcome: the merged labels, who gave each, the sample, the adaptation and its estimate."""

    labels: dict[Pair, int]
    provenance: list[Provenance]
    sample: list[Pair]  # the pairs drawn for the teacher
    routed: list[Pair]  # the pairs routed to a teacher after adapting (none without a route)
    refit: int  # routed pairs a fine-tuned student learned from too before labeling the rest (0: no refit)
    adapter: Adapter
    config: AdaptConfig  # as run: ``auto`` resolved to the method used
    estimate: AgreementEstimate  # the adapted student's cross-fitted agreement with the teacher on the sample
    student_judgments: list[Judgment]  # the student's own, before adapting
    student_run: LabelRun
    teacher_run: LabelRun
    files: LabelFiles

    @property
    def sources(self) -> dict[str, int]:
        """How many merged labels each source gave."""
        return source_counts(self.provenance)


def adapt_job(
    student: Judge,
    teacher: Judge,
    pairs: Sequence[Pair],
    dataset: Dataset,
    out: str | Path,
    budget: Budget,
    config: AdaptConfig = AdaptConfig(),
    route: Route | None = None,
    ray: RayOptions | None = None,
    progress: bool = True,
    engine: EngineSettings = EngineSettings(),
) -> Adapted:
    """Label ``pairs`` with ``student`` (on Ray with ``ray``), let ``teacher`` grade the sample ``budget`` buys,
    adapt the student to it, and write the merged labels to ``out`` with their provenance and the estimate
    (``engine``: how a fine-tuned student labels)."""
    if not student.traits.probabilities:
        raise ConfigError(f"adaptation reads a student's grade probabilities; {student.fingerprint} gives none")
    budget.check(teacher)
    if config.adapt_method == "auto":
        config = replace(config, adapt_method="ordinal" if why_not_fine_tunable(student) else "finetune")
    scale, card = student.scale, student.traits.card
    files = LabelFiles(Path(out))
    tuning = (
        FineTuning(student, teacher, dataset, files.finetune, config, engine, progress)
        if config.adapt_method == "finetune"
        else None
    )
    with JudgmentStore(files.store) as store:
        mine = label_job(student, pairs, dataset, store=store, ray=ray, progress=progress)
        answered = [j for j in mine.judgments if j.probs is not None]
        costs = worst_cost(teacher, [j.pair for j in answered], dataset) if budget.usd is not None else []
        sample = draw_sample(
            answered, scale, budget.count(len(answered), costs), config.adapt_seed, config.adapt_sample == "stratified"
        )
        theirs = label_job(
            teacher, sample, dataset, store=store, budget=budget if budget.usd else None, progress=progress
        )
        taught = {j.pair: j for j in theirs.judgments if j.ok}
        if off := sorted({j.grade for j in taught.values() if j.grade is not None} - set(scale)):
            raise ConfigError(f"the teacher {teacher.fingerprint} gave grades {off}, off the student's scale {scale}")
        if len({j.grade for j in taught.values()}) < 2:
            raise ConfigError(
                f"the teacher graded {len(taught)} sampled pairs with fewer than two grades: too small "
                f"a sample to adapt to; give a larger --adapt-budget"
            )
        by_pair = {j.pair: j for j in answered}
        fitted = sorted(taught)
        grades = np.array([taught[p].grade for p in fitted])
        drawn, every = dict(zip(fitted, grades.tolist())), [j.pair for j in answered]
        probs, queries = np.array([by_pair[p].probs for p in fitted]), [p.query_id for p in fitted]
        cuts = card.thresholds if card else None
        if tuning is not None:
            base, adapter, fine_tuned = tuning.labeled(drawn, "student", every, drawn, store, ray)
        else:
            adapter = fit_adapter(probs, queries, grades, scale, config.adapt_method, config.adapt_shrinkage, cuts)
            base, fine_tuned = answered, ""
        fingerprint = make_fingerprint(
            "adapted",
            student.fingerprint.split(":")[1],
            {
                "student": student.fingerprint,
                "teacher": teacher.fingerprint,
                "config": asdict(config),
                "sample": [(p.query_id, p.doc_id) for p in fitted],
            }
            | ({"fine-tuned": fine_tuned} if fine_tuned else {}),
        )
        adapted = adapted_judgments(base, adapter, fingerprint)
        answers = {j.pair: (j, teacher.scale) for j in theirs.judgments}  # any status: provenance shows failures too
        routed: list[Pair] = []
        learned: dict[Pair, int] = {}
        kept: Kept | None = None
        if route is not None:
            route.budget.check(route.teacher)
            ranks = uncertainty([j.probs or () for j in adapted], scale, adapter.thresholds, route.score)
            score = {j.pair: r for j, r in zip(adapted, ranks)}
            rest = [j.pair for j in adapted if j.pair not in taught]
            routed = choose(rest, [score[p] for p in rest], route.budget, route.teacher, dataset)
            kept = Kept(kept_like([score[p] for p in fitted], len(routed) / max(1, len(rest))))  # the sample, alike
            answered_routed = label_job(route.teacher, routed, dataset, store=store, progress=progress).judgments
            answers |= {j.pair: (j, route.teacher.scale) for j in answered_routed}
            if tuning is not None and route.teacher.fingerprint == teacher.fingerprint:
                learned = {j.pair: j.grade for j in answered_routed if j.ok and j.grade in scale}
        if tuning is not None and learned:  # the routed answers teach too: the pairs left get a better student
            again, adapter, refit = tuning.labeled(drawn | learned, "refit", every, drawn, store, ray)
            fingerprint = make_fingerprint(
                "adapted", student.fingerprint.split(":")[1], {"adapted": fingerprint, "refit": refit}
            )
            left = {j.pair: j for j in adapted_judgments(again, adapter, fingerprint)}
            adapted = [j if j.pair in taught or j.pair in learned else left[j.pair] for j in adapted]
        if kept is not None and learned:
            kept = replace(kept, grown=1 + len(learned) / len(fitted))
        if tuning is not None:
            out_of_fold, estimate = tuning.cross_fitted(fitted, grades, store, kept)
        else:
            out_of_fold, estimate = cross_fitted(
                probs,
                queries,
                grades,
                scale,
                config.adapt_method,
                config.adapt_shrinkage,
                cuts,
                config.folds,
                config.adapt_seed,
                kept,
            )
    provenance: list[Provenance] = []
    for j in adapted:
        answer, their_scale = answers.get(j.pair, (None, ()))
        provenance.append(routed_provenance(j, answer, None, scale, their_scale))
    labels = {row.pair: row.grade for row in provenance if row.grade is not None}
    write_qrels(files.labels, labels)
    write_jsonl(files.provenance, (row.to_json() for row in provenance))
    report = {
        "student": student.fingerprint,
        "teacher": teacher.fingerprint,
        "adapted": fingerprint,
        "dataset": str(dataset.folder or ""),
        "pairs": len(answered),
        "sample": len(sample),
        "graded_sample": len(taught),
        "budget": asdict(budget),
        "config": asdict(config),
        **estimate.to_json(),  # "kappa", "kappa_ci95", "alpha", ...: the adapted labels' agreement with the teacher
        "histograms": {
            "teacher": _histogram(grades),
            "student": _histogram([by_pair[p].grade for p in fitted]),
            "adapted": _histogram(out_of_fold),  # each from an adaptation that did not see it
        },
        "routed": len(routed),
        "refit": len(learned),  # routed pairs the fine-tuned student also learned from before labeling the rest
    }
    write_atomic(files.adapt, json.dumps(report, indent=2) + "\n")
    return Adapted(
        labels,
        provenance,
        sample,
        routed,
        len(learned),
        adapter,
        config,
        estimate,
        mine.judgments,
        mine.run,
        theirs.run,
        files,
    )


@dataclass(frozen=True)
class FineTuning:
    """Fine-tunes of a trained student on teacher grades of some of the pairs it labels (``finetune``): one on the
    whole sample, one per fold for the estimate, each kept in its own folder under ``folder`` (named by what it
    learns from), so a rerun or a resumed run trains nothing again."""

    student: Judge
    teacher: Judge
    dataset: Dataset
    folder: Path
    config: AdaptConfig
    engine: EngineSettings
    progress: bool

    def __post_init__(self) -> None:
        """One clear error, before the teacher is asked anything, for a student that cannot be trained further."""
        if reason := why_not_fine_tunable(self.student):
            raise ConfigError(reason)

    def tuned(self, pairs: Sequence[Pair], grades: np.ndarray, name: str) -> Judge:
        """The student trained further on the teacher's ``grades`` of ``pairs`` (in a folder named ``name``-KEY)."""
        from ..students.registry import CARD_FILE
        from ..students.student import load_student
        from ..train.config import TrainConfig
        from ..train.data import Example, TrainingSet
        from ..train.loop import train_student

        card, start = self.student.traits.card, self.student.traits.folder
        assert card is not None and start is not None  # checked when made
        known = {f.name for f in fields(TrainConfig)}
        recipe = TrainConfig(**{k: v for k, v in card.config.items() if k in known and k != "lora_targets"})
        config = replace(  # the student's own recipe, from its weights, over the sample
            recipe,
            base=str(start),
            epochs=self.config.adapt_epochs,
            max_steps=None,
            max_minutes=None,
            val_fraction=0.0,
            seed=self.config.adapt_seed,
        )
        examples = [
            Example(f"{self.dataset.name}/{p.query_id}", p.doc_id, self.dataset.queries[p.query_id],
                    self.dataset.docs[p.doc_id], int(g))
            for p, g in zip(pairs, grades)
        ]  # fmt: skip
        key = settings_hash(
            {
                "student": self.student.fingerprint,
                "config": asdict(config),
                "grades": [(e.group, e.doc_id, e.grade) for e in examples],
            }
        )
        out = self.folder / f"{name}-{key[:12]}"
        if not (out / CARD_FILE).is_file():
            training = TrainingSet(examples, (self.teacher.fingerprint,), (self.dataset.name,), {"ok": len(examples)})
            train_student(training, out, config, progress=self.progress, scale=self.student.scale)
        return load_student(out, self.engine)

    def labeled(
        self,
        learned: dict[Pair, int],
        name: str,
        pairs: Sequence[Pair],
        sample: dict[Pair, int],
        store: JudgmentStore,
        ray: RayOptions | None = None,
    ) -> tuple[list[Judgment], Adapter, str]:
        """The student fine-tuned on the teacher grades ``learned`` labels ``pairs``, cut so that those outside
        ``sample`` (drawn to represent the collection, unlike routed pairs) get the sample's teacher grade shares.
        Returns its judgments, that adapter and the fine-tuned student's fingerprint."""
        scale = self.student.scale
        taught = sorted(learned)
        tuned = self.tuned(taught, np.array([learned[p] for p in taught]), name)
        base = label_job(tuned, pairs, self.dataset, store=store, ray=ray, progress=self.progress).judgments
        others = np.array([j.probs for j in base if j.pair not in sample] or [j.probs for j in base])
        cuts = matched_cuts(expected_grade(others, scale), np.array(list(sample.values())), scale)
        return base, Adapter("finetune", scale, cuts), tuned.fingerprint

    def cross_fitted(
        self, pairs: Sequence[Pair], grades: np.ndarray, store: JudgmentStore, kept: Kept | None = None
    ) -> tuple[np.ndarray, AgreementEstimate]:
        """Each sample pair graded by a student fine-tuned on the other folds, at cuts matched to their teacher grade
        shares, and the agreement with the teacher that the student fine-tuned on the whole sample (or, with a route,
        ``kept.grown`` times it) is expected to reach on the pairs it labels (extrapolated from students fine-tuned on
        the folds and on half of each; ``cross_fit``). A fold whose other pairs hold a single teacher grade has
        nothing to learn an order from: it gives that grade, as cuts matched to those pairs' grade shares would."""
        scale = self.student.scale

        def grade(name: str, train: np.ndarray, test: np.ndarray) -> np.ndarray:
            if len(given := set(grades[train].tolist())) == 1:
                return np.full(int(test.sum()), given.pop())
            taught = {p: int(g) for p, g, t in zip(pairs, grades, train) if t}
            held = [p for p, t in zip(pairs, test) if t]
            judged, adapter, _ = self.labeled(taught, name, held, taught, store)
            return adapter.grades(np.array([j.probs for j in judged]), [p.query_id for p in held])

        folds, seed = self.config.folds, self.config.adapt_seed
        return cross_fit([p.query_id for p in pairs], grades, scale, folds, seed, grade, kept)


def why_not_fine_tunable(student: Judge) -> str:
    """Why ``--adapt-method finetune`` cannot train ``student`` further ("" when it can: a bi- or cross-encoder
    folder whose encoder was trained)."""
    card, start = student.traits.card, student.traits.folder
    if card is None or start is None:
        return f"--adapt-method finetune trains a student folder further; {student.fingerprint} is none"
    if card.kind not in ("bi-encoder", "cross-encoder") or card.config.get("train_layers") == 0:
        return (
            f"--adapt-method finetune trains a bi-encoder's or cross-encoder's encoder further, but {start} is a "
            f"{card.kind}"
            + (" with a frozen encoder" if card.config.get("train_layers") == 0 else "")
            + ": adapt it with --adapt-method ordinal"
        )
    return ""


def adapted_judgments(judgments: Sequence[Judgment], adapter: Adapter, fingerprint: str) -> list[Judgment]:
    """The student's judgments as the adapted student gives them: adapted probabilities and grades."""
    if not judgments:
        return []
    queries, student = [j.query_id for j in judgments], np.array([j.probs for j in judgments])
    probs, grades = adapter.probabilities(student, queries), adapter.grades(student, queries)
    return [
        Judgment(j.query_id, j.doc_id, int(g), fingerprint, probs=tuple(round(float(x), 6) for x in row))
        for j, g, row in zip(judgments, grades, probs)
    ]


def _histogram(grades: Sequence[int | None] | np.ndarray) -> dict[str, int]:
    return {str(g): n for g, n in sorted(Counter(int(x) for x in grades if x is not None).items())}
