"""Student training mechanics on a tiny random BERT (fast): splits, thresholds, saving, loading, labeling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qrelforge import (
    Batch,
    ConfigError,
    EngineSettings,
    TrainConfig,
    load_dataset,
    load_student,
    replay_judge,
    teacher_examples,
    train_student,
)
from qrelforge.students.base import numeric_format
from qrelforge.students.engine import predict_probs
from qrelforge.students.registry import load_model
from qrelforge.train.data import Example, TrainingSet, split_by_query
from qrelforge.train.thresholds import tune_thresholds


def test_split_is_by_query_never_by_pair(small_dataset: Path) -> None:
    examples = teacher_examples([load_dataset(small_dataset)]).examples
    train, val = split_by_query(examples, 0.25, seed=1)
    assert {e.group for e in train}.isdisjoint({e.group for e in val})
    assert len({e.group for e in val}) == 2 and len(train) + len(val) == len(examples) == 96
    with pytest.raises(ConfigError, match="at least 2 queries"):
        split_by_query([e for e in examples if e.group == examples[0].group], 0.2, seed=1)


def test_teacher_file_or_human_qrels_teach(small_dataset: Path, tmp_path: Path) -> None:
    dataset = load_dataset(small_dataset)
    humans = teacher_examples([dataset])
    assert humans.teachers[0].startswith("human:") and humans.statuses == {"ok": 96}
    partial = tmp_path / "teacher.txt"
    partial.write_text("".join(f"{p.query_id} 0 {p.doc_id} 3\n" for p in dataset.pairs[:10]))
    taught = teacher_examples([dataset], replay_judge(partial))
    assert taught.statuses == {"ok": 10, "no_label": 86} and {e.grade for e in taught.examples} == {3}
    partial.write_text("other 0 ids 1\n")
    with pytest.raises(ConfigError, match="graded none of the 96 pairs"):
        teacher_examples([dataset], replay_judge(partial))


def test_thresholds_are_tuned_to_the_target() -> None:
    rng = np.random.default_rng(0)
    target = rng.integers(0, 4, 400)
    expected = 0.3 * target + rng.normal(0, 0.05, 400)  # a compressed but perfectly ordered score
    cuts = tune_thresholds(expected, target, [0, 1, 2, 3])
    predicted = np.searchsorted(cuts, expected, side="right")
    assert (predicted == target).mean() > 0.97  # the default cuts 0.5/1.5/2.5 would get ~0.5


def test_precision_choice() -> None:
    assert numeric_format("bf16", "cpu") == "bf16" and numeric_format("fp32", "cpu") == "fp32"
    with pytest.raises(ConfigError, match="precision"):
        numeric_format("fp8", "cpu")


@pytest.mark.parametrize("kind, weights", [("bi-encoder", "ordinal_head.json"), ("cross-encoder", "model.safetensors")])
def test_train_save_load_and_label(
    kind: str, weights: str, small_dataset: Path, tiny_base: Path, tmp_path: Path
) -> None:
    dataset = load_dataset(small_dataset)
    config = TrainConfig(student=kind, base=str(tiny_base), epochs=1, batch_size=8, max_length=64)
    result = train_student(teacher_examples([dataset]), tmp_path / "student", config, progress=False)
    folder = result.model_dir
    for name in ("config.json", "model.safetensors", "tokenizer.json", "qrelforge.json", "README.md", weights):
        assert (folder / name).is_file(), name
    card = json.loads((folder / "qrelforge.json").read_text())
    assert card["kind"] == kind and card["grades"] == [0, 1, 2, 3] and len(card["thresholds"]) == 3
    assert card["validation_queries"] == 2 and card["train_examples"] == 72 and len(result.losses) == 9
    readme = (folder / "README.md").read_text()
    assert "Validation agreement with the teacher" in readme and "Development benchmark" in readme
    import yaml

    header = yaml.safe_load(readme.split("---")[1])  # the Hugging Face model card's header
    assert header["base_model"] == tiny_base.name and header["datasets"] == [dataset.name]
    assert header["metrics"] == ["cohen_kappa", "krippendorff_alpha"] and kind in header["tags"]
    results = header["model-index"][0]["results"][0]["metrics"]
    assert [m["value"] for m in results] == [
        card["validation"]["cohen_kappa"],
        card["validation"]["krippendorff_alpha"],
    ]
    changed = (["student"] if kind == "cross-encoder" else []) + ["base", "batch_size", "max_length"]
    assert card["recipe_changes"] == changed and f"differ from that recipe in: {', '.join(changed)}" in readme
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # the atomic save left no temp folder

    # fp32: batching changes only float rounding; bf16 (what auto picks on a CPU with AMX) rounds far coarser
    one_by_one = load_student(folder, EngineSettings("fp32", tokens_per_batch=1, chunk_pairs=7))
    batched = load_student(folder, EngineSettings("fp32", tokens_per_batch=4096))
    assert one_by_one.fingerprint == batched.fingerprint
    a, b = one_by_one.judge(Batch(dataset.pairs, dataset)), batched.judge(Batch(dataset.pairs, dataset))
    assert [j.pair for j in a] == dataset.pairs
    assert [j.grade for j in a] == [j.grade for j in b]  # results do not depend on batching
    assert np.allclose([j.probs for j in a], [j.probs for j in b], atol=1e-4)
    assert all(abs(sum(j.probs) - 1) < 1e-3 and j.grade in (0, 1, 2, 3) for j in a)


def test_unknown_student_kind_lists_known(tmp_path: Path, small_dataset: Path) -> None:
    (tmp_path / "qrelforge.json").write_text('{"kind": "crystal-ball"}')
    with pytest.raises(ConfigError, match="known kinds: \\['bi-encoder', 'causal-lm', 'cross-encoder'\\]"):
        load_student(tmp_path)


def test_ordinal_head_keeps_grades_ordered() -> None:
    import torch

    from qrelforge.students.bi_encoder import ordinal_head

    head = ordinal_head(4)
    with torch.no_grad():
        head.log_gaps[:] = torch.tensor([-5.0, -2.0])  # cuts 0.3, 0.307 (almost on the first), 0.434
        probs = head(torch.linspace(-1, 1, 201)).exp()
    assert torch.allclose(probs.sum(1), torch.ones(201), atol=1e-4) and (probs >= 0).all()
    expected = probs @ torch.arange(4.0)
    assert (expected.diff() >= 0).all() and expected[-1] - expected[0] > 2.9  # monotone, spans the scale
    assert (head.cuts().diff() > 0).all()


@pytest.mark.parametrize("soft", [False, True])
def test_soft_targets_teach_the_teachers_uncertainty(soft: bool, tiny_base: Path, tmp_path: Path) -> None:
    """A teacher that is 80% sure of every grade: soft targets learn that 80%, hard targets learn certainty."""
    examples = [
        Example(f"toy/q{q}", f"d{q}-{k}", "what is the color of the sky", doc, grade, {grade: 0.8, 1 - grade: 0.2})
        for q in range(8)
        for k, (doc, grade) in enumerate([("the sky is blue", 1), ("bananas are long", 0)] * 8)
    ]
    config = TrainConfig(
        student="cross-encoder",
        base=str(tiny_base),
        epochs=15,
        batch_size=8,
        max_length=32,
        learning_rate=5e-3,
        soft_targets=soft,
        precision="fp32",  # the same arithmetic on every machine (auto picks bf16 where it is fast)
    )
    result = train_student(
        TrainingSet(examples, ("toy",), ("toy",), {"ok": len(examples)}), tmp_path / "s", config, progress=False
    )
    model = load_model(result.model_dir, "fp32", "cpu")
    probs = predict_probs(
        model,
        model.encode(["what is the color of the sky"] * 2, ["the sky is blue", "bananas are long"], 32),
        4096,
        False,
    )
    assert probs[0, 1] > 0.5 > probs[1, 1]  # both learn which passage is relevant
    confidence = probs.max(axis=1)
    assert (abs(confidence - 0.8) < 0.1).all() if soft else (confidence > 0.93).all(), confidence


def test_soft_targets_need_probabilities(small_dataset: Path, tiny_base: Path, tmp_path: Path) -> None:
    config = TrainConfig(student="cross-encoder", base=str(tiny_base), max_steps=1, soft_targets=True)
    with pytest.raises(ConfigError, match="no grade probabilities"):
        train_student(teacher_examples([load_dataset(small_dataset)]), tmp_path / "s", config, progress=False)


def test_a_killed_training_run_resumes_from_its_checkpoint(
    small_dataset: Path, tiny_base: Path, tmp_path: Path
) -> None:
    """Killed after its first checkpoint, a run restarts there and ends where an uninterrupted run ends."""
    import subprocess
    import sys

    dataset = load_dataset(small_dataset)
    config = TrainConfig(
        student="cross-encoder",
        base=str(tiny_base),
        epochs=4,
        batch_size=4,
        max_length=64,
        checkpoint_minutes=0,
        precision="fp32",
    )
    whole = train_student(teacher_examples([dataset]), tmp_path / "whole", config, progress=False)
    script = (
        f"from qrelforge import *\nimport os, qrelforge.train.checkpoint as c\nsave = c.Checkpoint.save\n"
        f"def save_then_die(self, state):\n    save(self, state)\n"
        f"    if state['batch'] >= 30: os._exit(9)\nc.Checkpoint.save = save_then_die\n"
        f"train_student(teacher_examples([load_dataset({str(small_dataset)!r})]), {str(tmp_path / 'resumed')!r}, "
        f"TrainConfig(student='cross-encoder', base={str(tiny_base)!r}, epochs=4, batch_size=4, max_length=64, "
        f"checkpoint_minutes=0, precision='fp32'), progress=False)\n"
    )
    assert subprocess.run([sys.executable, "-c", script]).returncode == 9  # died right after a checkpoint
    checkpoint = tmp_path / ".resumed.checkpoint.pt"
    assert checkpoint.is_file() and not (tmp_path / "resumed").exists()
    resumed = train_student(teacher_examples([dataset]), tmp_path / "resumed", config, progress=False)
    assert not checkpoint.exists() and len(resumed.losses) == len(whole.losses) == 72
    assert resumed.losses == pytest.approx(whole.losses, abs=1e-5)  # the same batches, the same state: one run
    assert resumed.thresholds == pytest.approx(whole.thresholds, abs=1e-5)


def test_the_pairwise_term_orders_each_querys_pairs(small_dataset: Path, tiny_base: Path, tmp_path: Path) -> None:
    """RankNet over a query's pairs: known values, batches of whole queries, and a training run whose loss (grade
    cross-entropy plus the pairwise term) falls."""
    import math
    import random

    import torch

    from qrelforge.train.loop import _query_grouped, pairwise_loss

    scores, grades = torch.tensor([2.0, 0.0, 1.0]), torch.tensor([3.0, 0.0, 3.0])
    same_query = pairwise_loss(scores, grades, torch.tensor([0, 0, 1]))  # one pair: query 0's grade 3 over grade 0
    assert math.isclose(same_query.item(), math.log(1 + math.exp(-2.0)), rel_tol=1e-6)
    assert pairwise_loss(scores, grades, torch.tensor([0, 1, 2])).item() == 0.0  # no two pairs of one query
    groups = [f"q{i // 12}" for i in range(96)]
    batches = _query_grouped(groups, 12, random.Random(0))
    assert sorted(i for b in batches for i in b) == list(range(96)) and all(
        len({groups[i] for i in b}) == 1 for b in batches
    )
    config = TrainConfig(
        student="cross-encoder",
        base=str(tiny_base),
        epochs=8,
        batch_size=12,
        max_length=64,
        pairwise=1.0,
        precision="fp32",
        learning_rate=1e-3,
    )
    result = train_student(
        teacher_examples([load_dataset(small_dataset)]), tmp_path / "student", config, progress=False
    )
    assert sum(result.losses[-8:]) / 8 < sum(result.losses[:8]) / 8 - 0.05
    assert json.loads((tmp_path / "student" / "qrelforge.json").read_text())["config"]["pairwise"] == 1.0


def test_a_student_keeps_the_scale_it_is_given_when_the_teacher_skips_a_grade(
    small_dataset: Path, tiny_base: Path, tmp_path: Path
) -> None:
    """Fine-tuning on a few teacher grades that miss a grade (as a small adaptation sample can) still gives a student
    of the whole scale; a grade off that scale is one clear error."""
    dataset = load_dataset(small_dataset)
    examples = [e for e in teacher_examples([dataset]).examples if e.grade in (0, 1)]
    training = TrainingSet(examples, ("teacher",), (dataset.name,), {"ok": len(examples)})
    config = TrainConfig(base=str(tiny_base), max_steps=1, max_length=32, val_fraction=0.0, precision="fp32")
    two = load_student(train_student(training, tmp_path / "two", config, progress=False).model_dir)
    assert two.scale == (0, 1)
    trained = train_student(training, tmp_path / "four", config, progress=False, scale=(0, 1, 2, 3))
    whole = load_student(trained.model_dir, EngineSettings("fp32"))
    assert whole.scale == (0, 1, 2, 3)
    judged = whole.judge(Batch(dataset.pairs[:3], dataset))
    assert all(len(j.probs or ()) == 4 for j in judged)
    with pytest.raises(ConfigError, match=r"grade\(s\) \[1\], off the scale \[0, 2\]"):
        train_student(training, tmp_path / "off", config, progress=False, scale=(0, 2))
