"""The pipeline's YAML: one section per stage. Unknown keys are errors that name the file; relative paths are read
from the YAML file's folder.

    corpus: {dataset: ../shared/data/trec-dl-2020-passage}        # the docs to index and to write queries from
    index: {stemmer: english, stopwords: en}
    generate: {llm: {kind: llama-cpp, temperature: 0}, seeds: 50, styles: [question], per_doc: 1}
    mine: {bands: [[1, 10, 3], [11, 50, 3], [51, 200, 3]], random: 1}
    teacher: {kind: llama-cpp, template: rubric}                  # a teacher config (see judge/config.py)
    train: {epochs: 1}                                            # TrainConfig fields
    evaluate: {dataset: ../shared/data/trec-dl-2020-passage, pairs: 200}   # human labels to compare with
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io.files import load_yaml_config
from ..judge.config import TeacherConfig, teacher_config_from_mapping
from ..train.config import TrainConfig


@dataclass(frozen=True)
class GenerateConfig:
    llm: TeacherConfig = TeacherConfig(kind="llama-cpp")
    seeds: int = 20
    stratify: str | None = None  # a docs.jsonl field (e.g. folder): seeds are shared equally among its values
    styles: tuple[str, ...] = ("question",)
    per_doc: int = 1
    seed: int = 0
    min_words: int = 2
    max_words: int = 20
    near_duplicate: float = 0.8
    consistency_k: int | None = 20
    language: str | None = "auto"  # ISO 639-1 code; auto: the seed documents' language; null: no language filter


@dataclass(frozen=True)
class MineConfig:
    bands: tuple[tuple[int, int, int], ...] = ((1, 10, 3), (11, 50, 3), (51, 200, 3))
    random: int = 1
    seed: int = 0


@dataclass(frozen=True)
class EvaluateConfig:
    dataset: str | None = None  # a human-labeled dataset folder; no evaluation without it
    pairs: int | None = 200  # a random sample of its judged pairs (None: all)
    seed: int = 0


@dataclass(frozen=True)
class PipelineConfig:
    corpus: str  # dataset folder whose docs.jsonl is the corpus
    index: dict[str, Any] = field(default_factory=lambda: {"stemmer": "english", "stopwords": "en"})
    generate: GenerateConfig = GenerateConfig()
    mine: MineConfig = MineConfig()
    teacher: TeacherConfig = TeacherConfig(kind="llama-cpp", template="rubric")
    train: TrainConfig = TrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()


def load_pipeline_config(path: str | Path) -> PipelineConfig:
    """Read a pipeline YAML file; unknown keys and wrong types are errors that name the file."""
    return load_yaml_config(path, "a pipeline YAML file: a mapping with one section per stage", _build)


def _build(data: dict[str, Any], base: Path) -> PipelineConfig:
    _known(data, PipelineConfig, "pipeline sections")
    if unknown := sorted(set(data.get("index") or {}) - {"stemmer", "stopwords"}):
        raise ConfigError(f"unknown index settings {unknown}; known: ['stemmer', 'stopwords']")
    corpus = data.get("corpus") or {}
    if "dataset" not in corpus:
        raise ConfigError("corpus: needs a dataset folder (corpus: {dataset: DIR})")
    generate = dict(data.get("generate") or {})
    _known(generate, GenerateConfig, "generate settings")
    if "llm" in generate:
        generate["llm"] = teacher_config_from_mapping(generate["llm"], base)
    generate["styles"] = tuple(generate.get("styles", GenerateConfig.styles))
    mine = dict(data.get("mine") or {})
    _known(mine, MineConfig, "mine settings")
    if "bands" in mine:
        mine["bands"] = tuple(tuple(band) for band in mine["bands"])
    evaluate = dict(data.get("evaluate") or {})
    _known(evaluate, EvaluateConfig, "evaluate settings")
    if evaluate.get("dataset"):
        evaluate["dataset"] = str(base / evaluate["dataset"])
    train = dict(data.get("train") or {})
    _known(train, TrainConfig, "train settings")
    return PipelineConfig(
        corpus=str(base / corpus["dataset"]), index=dict(data.get("index") or PipelineConfig("").index),
        generate=GenerateConfig(**generate), mine=MineConfig(**mine),
        teacher=teacher_config_from_mapping(data.get("teacher") or {"kind": "llama-cpp", "template": "rubric"}, base),
        train=TrainConfig(**train), evaluate=EvaluateConfig(**evaluate))


def _known(section: dict[str, Any], kind: type, what: str) -> None:
    known = {f.name for f in fields(kind)}
    if unknown := sorted(set(section) - known):
        raise ConfigError(f"unknown {what} {unknown}; known: {sorted(known)}")
