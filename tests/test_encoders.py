"""Any sentence-transformers or Hugging Face folder as an encoder student's base: its prompts, pooling and dense
layers are used; only the chosen layers train; a frozen encoder's embeddings are cached and never stale."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_bert
from qrelforge import Batch, EngineSettings, TrainConfig, load_dataset, load_student, teacher_examples, train_student
from qrelforge.students.encoders import sentence_encoder
from qrelforge.students.registry import load_model

PROMPTS = {"query": "search query: ", "document": "passage: "}


@pytest.fixture(scope="module")
def tiny_sentence_model(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny BERT as a sentence-transformers folder: mean pooling, a dense layer to 16 dims, prompts."""
    from sentence_transformers import SentenceTransformer, models

    word = models.Transformer(str(tiny_base), max_seq_length=64)
    pooling = models.Pooling(word.get_word_embedding_dimension(), "mean")
    dense = models.Dense(word.get_word_embedding_dimension(), 16, activation_function=torch.nn.Identity())
    folder = tmp_path_factory.mktemp("tiny-st")
    SentenceTransformer(modules=[word, pooling, dense], prompts=PROMPTS, device="cpu").save(str(folder))
    return folder


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "embeddings.sqlite"
    monkeypatch.setenv("QRELFORGE_EMBEDDING_CACHE", str(path))
    return path


def rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]


def test_the_base_prompts_and_dense_layer_are_used(
    tiny_sentence_model: Path, small_dataset: Path, tmp_path: Path
) -> None:
    config = TrainConfig(base=str(tiny_sentence_model), max_steps=2, max_length=64)
    folder = train_student(
        teacher_examples([load_dataset(small_dataset)]), tmp_path / "s", config, progress=False
    ).model_dir
    model = load_model(folder, "fp32", "cpu")
    assert model.prompts == PROMPTS
    [features] = model.encode(["cats"], ["dogs"], 64)
    prompt_ids = model.tokenizer("search query: cats")["input_ids"]
    assert (
        features["query_ids"] == prompt_ids and features["doc_ids"][:3] == model.tokenizer("passage: ")["input_ids"][:3]
    )
    with torch.inference_mode():
        assert model.embed([tuple(features["query_ids"])]).shape == (1, 16)  # the dense layer is part of it
    reference = sentence_encoder(folder, "cpu").encode_query(["cats"], normalize_embeddings=True)
    with torch.inference_mode():
        assert np.allclose(model.embed([tuple(features["query_ids"])]).numpy(), reference, atol=1e-5)


def test_a_frozen_encoder_trains_only_its_head_and_caches_each_text_once(
    tiny_sentence_model: Path, small_dataset: Path, tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = load_dataset(small_dataset)
    before = {k: v.clone() for k, v in sentence_encoder(tiny_sentence_model, "cpu").state_dict().items()}
    # fp32, so that a vector is the same whatever batch embedded it (bf16 kernels differ by batch shape on some CPUs)
    config = TrainConfig(base=str(tiny_sentence_model), train_layers=0, epochs=3, max_length=64, precision="fp32")
    fp32 = EngineSettings(precision="fp32")
    result = train_student(teacher_examples([dataset]), tmp_path / "s", config, progress=False)
    assert result.losses[-1] < result.losses[0]  # the head learned
    distinct = len(dataset.queries) + len(dataset.docs)
    assert rows(cache) == distinct  # three epochs and validation: each text embedded once
    assert not list(result.model_dir.rglob("*.safetensors"))  # the folder keeps the head, not a copy of the base
    student = load_student(result.model_dir, fp32)
    first = list(student.judge(Batch(dataset.pairs, dataset)))
    assert rows(cache) == distinct  # labeling the same texts reads them back
    after = student.model.module["encoder"].state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    cold = tmp_path / "cold.sqlite"
    monkeypatch.setenv("QRELFORGE_EMBEDDING_CACHE", str(cold))
    again = list(load_student(result.model_dir, fp32).judge(Batch(dataset.pairs, dataset)))
    assert rows(cold) == distinct  # a new cache is filled, and gives the same probabilities (to float rounding:
    # training embedded the texts in other batches than labeling does)
    assert np.allclose([j.probs for j in again], [j.probs for j in first], rtol=0, atol=1e-4)
    changed = load_student(result.model_dir, EngineSettings(precision="bf16"))
    list(changed.judge(Batch(dataset.pairs[:5], dataset)))
    assert rows(cold) > distinct  # another numeric format is another namespace: no stale vector is reused


@pytest.mark.parametrize("kind", ["bi-encoder", "cross-encoder"])
def test_train_layers_tunes_only_the_top_blocks(
    kind: str, tiny_base: Path, small_dataset: Path, tmp_path: Path
) -> None:
    config = TrainConfig(
        student=kind, base=str(tiny_base), train_layers=1, max_steps=3, max_length=64, learning_rate=1e-2
    )
    folder = train_student(
        teacher_examples([load_dataset(small_dataset)]), tmp_path / "s", config, progress=False
    ).model_dir
    from transformers import AutoModel

    base = AutoModel.from_pretrained(tiny_base).state_dict()
    tuned = load_model(folder, "fp32", "cpu").module
    trained = tuned["encoder"][0].auto_model.state_dict() if kind == "bi-encoder" else tuned.base_model.state_dict()
    changed = {k.split(".")[2] for k in base if k.startswith("encoder.layer.") and not torch.equal(base[k], trained[k])}
    assert changed == {"1"}  # the top block of two
    assert torch.equal(base["embeddings.word_embeddings.weight"], trained["embeddings.word_embeddings.weight"])


def test_a_hub_id_is_a_base_where_a_hub_answers_and_one_clear_error_where_none_does(tiny_base: Path) -> None:
    """`--base` takes a folder or a model hub id; here no hub is reachable, so an id is one error that says what to
    do, and a folder is used as it is (the tests run with HF_HUB_OFFLINE set: conftest.py)."""
    from qrelforge import ConfigError, InputFormatError
    from qrelforge.students.encoders import resolve_base

    assert resolve_base(str(tiny_base)) == str(tiny_base)
    with pytest.raises(ConfigError, match="base 'google/embeddinggemma-300m' is no folder here .* pass its folder"):
        resolve_base("google/embeddinggemma-300m")
    with pytest.raises(InputFormatError, match="a model folder, or a model hub id"):
        resolve_base("not a folder, nor an id")


@pytest.fixture(scope="module")
def still_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-block tiny BERT without dropout, so a cached trunk and the whole model must compute the same."""
    return tiny_bert(
        tmp_path_factory.mktemp("still-bert"), 3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    )


def test_a_cached_trunk_computes_what_the_whole_model_does_and_runs_once_per_text(still_base: Path) -> None:
    from qrelforge.students.bi_encoder import BiEncoder
    from qrelforge.students.encoders import transformer_blocks

    cached, whole = (
        BiEncoder.from_base(str(still_base), [0, 1, 2, 3], "cpu", TrainConfig(train_layers=1)) for _ in "ab"
    )
    whole.trunk = None
    assert cached.trunk is not None and cached.trunk.first_tuned == 2  # the top block of three trains
    lower_runs: list[int] = []  # texts through the lowest block's attention: its real work
    transformer_blocks(cached.module["encoder"])[0].attention.register_forward_hook(
        lambda module, inputs, output: lower_runs.append(inputs[0].shape[0])
    )
    features = cached.encode(["cats", "dogs on mats", "cats"], ["a cat sat", "dogs bark all night long", "x"], 64)
    for model in (cached, whole):
        model.module.train()
    for _ in range(3):  # three steps over the same texts
        ours, theirs = cached.log_probs(features), whole.log_probs(features)
        assert torch.allclose(ours, theirs, atol=1e-5)
        ours.sum().backward()
        theirs.sum().backward()
    tuned = [
        (a.grad, b.grad)
        for a, b in zip(cached.module.parameters(), whole.module.parameters())
        if a.requires_grad and a.grad is not None
    ]
    assert tuned and all(torch.allclose(a, b, atol=1e-5) for a, b in tuned)
    assert cached.trunk.size == 5 and sum(lower_runs) == 5  # 2 distinct queries + 3 passages, each run once
    mixed = cached.encode(["cats", "cats"], ["a cat sat", "a new passage on mats"], 64)
    assert torch.allclose(cached.log_probs(mixed), whole.log_probs(mixed), atol=1e-5)
    assert sum(lower_runs) == 6  # of a batch of known and new texts, only the new one runs through the trunk


def test_training_the_top_block_on_a_cached_trunk_learns_as_the_whole_model_does(
    still_base: Path, small_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qrelforge.students.trunk_cache import TrunkCache

    examples = teacher_examples([load_dataset(small_dataset)])
    config = TrainConfig(
        base=str(still_base), train_layers=1, epochs=4, max_length=64, precision="fp32", learning_rate=1e-3
    )
    cached = train_student(examples, tmp_path / "cached", config, progress=False)
    monkeypatch.setattr(TrunkCache, "run", lambda self, forward, batch, ids: forward(batch))  # no cache
    whole = train_student(examples, tmp_path / "whole", config, progress=False)
    per_epoch = len(cached.losses) // config.epochs
    assert np.mean(cached.losses[-per_epoch:]) < np.mean(cached.losses[:per_epoch])  # it learned
    assert np.allclose(cached.losses, whole.losses, atol=1e-4)  # and learned the same thing
