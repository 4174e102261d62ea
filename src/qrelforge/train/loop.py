"""Fine-tune a student on a teacher's grades, on CPU-friendly defaults.

Any kind of ``students/`` trains through the same loop: length-grouped batches with dynamic padding, bf16 autocast
where the hardware makes it fast, a fixed seed, validation on held-out queries, and grade thresholds tuned there.
The result is a Hugging Face model folder with ``qrelforge.json`` and a model card.

>>> from qrelforge import TrainConfig, load_dataset, teacher_examples, train_student
>>> result = train_student(teacher_examples([load_dataset("dl20-demo")]), "student", TrainConfig())  # doctest: +SKIP
>>> # (skipped: it trains for minutes; tests/test_train.py trains tiny models)
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..evaluate.agreement import Agreement, agreement
from ..evaluate.calibration import expected_calibration_error
from ..fingerprint import file_digest, make_fingerprint
from ..io.files import write_folder_atomic
from ..progress import progress_bar
from ..records import Calibration, Pair, StudentCard
from ..students.base import (
    Features,
    StudentModel,
    autocast,
    decide,
    default_device,
    device_of,
    expected_grade,
    numeric_format,
    quiet_transformers,
    temper,
)
from ..students.encoders import default_base, resolve_base, weight_files
from ..students.engine import CPU_TOKENS_PER_BATCH, predict_probs
from ..students.registry import student_kind
from .calibration import fit_temperature
from .card import recipe_changes, write_card
from .checkpoint import Checkpoint, trainable_state
from .config import TrainConfig
from .data import Example, TrainingSet, split_by_query
from .thresholds import tune_thresholds


@dataclass(frozen=True)
class TrainResult:
    model_dir: Path
    losses: list[float]
    validation: Agreement  # student vs teacher on held-out queries
    thresholds: tuple[float, ...]
    train_examples: int
    seconds: float
    train_pairs_per_second: float
    bf16: bool


def base_digest(base: str) -> str:
    """One digest of the base folder's weight files: which base this student started from, to the byte."""
    return make_fingerprint("base", Path(base).name, {"weights": [file_digest(p) for p in weight_files(Path(base))]})


def train_student(
    training: TrainingSet,
    out: str | Path,
    config: TrainConfig = TrainConfig(),
    progress: bool = True,
    scale: Sequence[int] = (),
) -> TrainResult:
    """Train, validate on held-out queries, tune thresholds, and save the student to ``out`` (grading on ``scale``,
    by default the grades the teacher gave)."""
    import torch

    kind = student_kind(config.student, "TrainConfig.student")
    given = sorted({e.grade for e in training.examples})
    if len(given) < 2:
        raise ConfigError(f"the teacher gave only grade(s) {given}: a student needs at least two grades to learn")
    if off := sorted(set(given) - set(scale or given)):
        raise ConfigError(f"the teacher gave grade(s) {off}, off the scale {list(scale)} the student is to grade on")
    grades = sorted(scale or given)
    quiet_transformers()
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    train, val = split_by_query(training.examples, config.val_fraction, config.seed)
    base = resolve_base(config.base) if config.base else default_base()
    device = default_device()
    model = kind.from_base(base, grades, device, config)
    fmt = numeric_format(config.precision, device)
    if fmt == "int8":
        raise ConfigError("precision int8 is for labeling only; train in auto, fp32 or bf16")
    bf16 = fmt == "bf16"
    model.use_cache(fmt)  # a frozen encoder embeds each distinct text once
    run_key = make_fingerprint(
        "train",
        kind.kind,
        {
            "config": asdict(config) | {"checkpoint_minutes": None},
            "base": base_digest(base),
            "examples": [(e.group, e.doc_id, e.grade, sorted((e.probs or {}).items())) for e in train],
        },
    )
    checkpoint = Checkpoint(Path(out), run_key, config.checkpoint_minutes)

    losses, seconds, seen = _fit(model, train, grades, config, bf16, progress, checkpoint)
    model.module.eval()
    raw = predict_probs(model, _encode(model, val, config.max_length), CPU_TOKENS_PER_BATCH, bf16)
    target = np.array([e.grade for e in val])
    column = np.searchsorted(grades, target)
    temperature = fit_temperature(np.log(np.clip(raw, 1e-12, None)), column)
    probs = temper(raw, temperature)  # calibrated on the validation queries; the thresholds are tuned after it
    calibration = Calibration(
        round(temperature, 4),
        round(expected_calibration_error(raw, column), 4),
        round(expected_calibration_error(probs, column), 4),
    )
    thresholds = tune_thresholds(expected_grade(probs, grades), target, grades)
    predicted = decide(probs, grades, thresholds)
    validation = agreement(
        {Pair(e.group, e.doc_id): int(g) for e, g in zip(val, predicted)},
        {Pair(e.group, e.doc_id): e.grade for e in val},
    )
    card = StudentCard(
        kind.kind,
        tuple(grades),
        tuple(thresholds),
        config.max_length,
        calibration.temperature,
        calibration,
        base,
        base_digest(base),
        training.teachers,
        training.datasets,
        training.statuses,
        len(train),
        len(val),
        len({e.group for e in val}),
        asdict(config) | {"base": base},
        tuple(recipe_changes(config)),
        bf16,
        len(losses),
        round(seconds, 1),
        validation.to_dict(),
    )

    def save(folder: Path) -> None:
        model.save(folder)
        write_card(folder, card)

    out = Path(out)
    write_folder_atomic(out, save)
    checkpoint.remove()
    return TrainResult(out, losses, validation, tuple(thresholds), len(train), seconds, seen / seconds, bf16)


def _fit(
    model: StudentModel,
    train: Sequence[Example],
    grades: Sequence[int],
    config: TrainConfig,
    bf16: bool,
    progress: bool,
    checkpoint: Checkpoint,
) -> tuple[list[float], float, int]:
    """The training loop: AdamW with linear warm-up and decay over length-grouped batches.

    The loss is the cross-entropy with the target distribution: the teacher's grade, or with ``soft_targets`` its
    grade probabilities (renormalized over the student's grades). Gradients of ``grad_accumulation`` batches make
    one optimizer step. A run resumes from ``checkpoint`` when it has one of the same run. Returns the loss of each
    batch, the seconds spent, and the number of pairs seen.
    """
    import torch
    from transformers import get_linear_schedule_with_warmup

    features = _encode(model, train, config.max_length)
    targets = torch.from_numpy(target_distributions(train, grades, config.soft_targets))
    lengths = [model.length(f) for f in features]
    groups = [e.group for e in train]
    batches = [
        b
        for epoch in range(config.epochs)
        for b in (
            _query_grouped(groups, config.batch_size, random.Random(config.seed + epoch))
            if config.pairwise
            else _length_grouped(lengths, config.batch_size, random.Random(config.seed + epoch))
        )
    ]
    if config.pairwise:  # what the pairwise term compares: each pair's teacher grade and query
        scale = torch.tensor(list(grades), dtype=torch.float32)
        ordered = torch.tensor([e.grade for e in train], dtype=torch.float32)
        number = {g: i for i, g in enumerate(sorted(set(groups)))}
        group_ids = torch.tensor([number[g] for g in groups])
    accumulate = config.grad_accumulation
    batches = batches[: config.max_steps * accumulate] if config.max_steps else batches
    steps = -(-len(batches) // accumulate)
    optimizer = torch.optim.AdamW(model.param_groups(config.learning_rate, config.head_learning_rate))
    losses, seen, start = [], 0, time.perf_counter()
    if config.max_minutes:  # warm-up and decay follow the clock: the budget, not the data, ends the run
        minutes = config.max_minutes

        def clock(_: int) -> float:
            done = min(1.0, (time.perf_counter() - start) / (60 * minutes))
            warm = config.warmup_ratio
            return done / warm if done < warm else (1 - done) / (1 - warm)

        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, clock)
    else:
        schedule = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * steps), steps)
    first = 0
    if (state := checkpoint.load()) is not None:  # a killed run of these settings: continue where it stopped
        model.module.load_state_dict(state["weights"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        torch.set_rng_state(state["rng"])
        first, losses, seen = state["batch"], state["losses"], state["seen"]
        start -= state["seconds"]
    device_type = device_of(model.module).type
    model.module.train()
    with progress_bar("training", len(batches), "batches", enabled=progress, done=first) as advance:
        for k in range(first, len(batches)):
            batch = batches[k]
            with autocast(bf16, device_type):
                log_probs = model.log_probs([features[i] for i in batch]).float()
            loss = -(targets[batch].to(log_probs.device) * log_probs).sum(-1).mean()
            if config.pairwise:
                expected = log_probs.exp() @ scale.to(log_probs.device)
                loss = loss + config.pairwise * pairwise_loss(expected, ordered[batch], group_ids[batch])
            (loss / accumulate).backward()
            if (k + 1) % accumulate == 0 or k + 1 == len(batches):
                torch.nn.utils.clip_grad_norm_(model.module.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
            losses.append(loss.item())
            seen += len(batch)
            if (k + 1) % accumulate == 0 and k + 1 < len(batches) and checkpoint.due():
                checkpoint.save(
                    {
                        "weights": trainable_state(model.module),
                        "optimizer": optimizer.state_dict(),
                        "schedule": schedule.state_dict(),
                        "rng": torch.get_rng_state(),
                        "batch": k + 1,
                        "losses": losses,
                        "seen": seen,
                        "seconds": time.perf_counter() - start,
                    }
                )
            advance(1, f"loss {np.mean(losses[-20:]):.3f}")
            if config.max_minutes and time.perf_counter() - start > 60 * config.max_minutes:
                break  # the wall-clock budget is spent
    return losses, time.perf_counter() - start, seen


def target_distributions(examples: Sequence[Example], grades: Sequence[int], soft: bool) -> np.ndarray:
    """One row per example over ``grades``: one-hot on the teacher's grade, or its probabilities when ``soft``."""
    if soft and not any(e.probs for e in examples):
        raise ConfigError(
            'soft_targets: the teacher gave no grade probabilities (a label JSONL needs "probs", a '
            "teacher needs logprobs or samples); train on its grades instead"
        )
    out = np.zeros((len(examples), len(grades)), dtype=np.float32)
    for row, e in zip(out, examples):
        mass = [e.probs.get(g, 0.0) for g in grades] if soft and e.probs else []
        if sum(mass) > 0:
            row[:] = np.divide(mass, sum(mass))
        else:
            row[grades.index(e.grade)] = 1.0
    return out


def _encode(model: StudentModel, examples: Sequence[Example], max_length: int) -> list[Features]:
    return model.encode([e.query for e in examples], [e.doc for e in examples], max_length)


def pairwise_loss(scores: Any, grades: Any, groups: Any) -> Any:
    """RankNet over the pairs of one query in a batch whose teacher grades differ: the mean of
    log(1 + exp(-(s_better - s_worse))); zero where the batch holds no such pair."""
    import torch

    better = (groups[:, None] == groups[None, :]) & (grades[:, None] > grades[None, :])
    if not better.any():
        return scores.sum() * 0.0
    gaps = (scores[:, None] - scores[None, :])[better.to(scores.device)]
    return torch.nn.functional.softplus(-gaps).mean()


def _query_grouped(groups: Sequence[str], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Batches of whole queries' pairs (a query's pairs shuffled, queries in random order), so a batch holds pairs to
    compare; a query with more pairs than a batch spans several."""
    by_query: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        by_query.setdefault(group, []).append(i)
    order = []
    for group in rng.sample(sorted(by_query), len(by_query)):
        mine = by_query[group]
        rng.shuffle(mine)
        order += mine
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def _length_grouped(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar lengths: shuffle, sort within windows of 50 batches, shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 50
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches
