"""The pipeline's YAML: one section per stage, each read into that stage's settings dataclass (the one source of its
defaults). Unknown keys are errors that name the file; relative paths are read from the YAML file's folder.

    corpus: {dataset: ../shared/data/trec-dl-2020-passage}        # the docs to index and to write queries from
    index: {stemmer: english, stopwords: en}                      # IndexConfig
    generate: {llm: {kind: llama-cpp, temperature: 0}, seeds: 50, styles: [question], per_doc: 1}   # GenerateConfig
    mine: {bands: [[1, 10, 3], [11, 50, 3], [51, 200, 3]], random: 1}                                # MineConfig
    teacher: {kind: llama-cpp, template: rubric}                  # a teacher config (see llm/config.py)
    train: {epochs: 1}                                            # TrainConfig
    evaluate: {dataset: ../shared/data/trec-dl-2020-passage, pairs: 200}   # EvaluateConfig

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "pipeline.yaml"
>>> _ = path.write_text("corpus: {dataset: corpus}\\nmine: {random: 2}\\n")
>>> config = load_pipeline_config(path)
>>> config.mine.random, config.mine.bands[0], config.teacher.kind
(2, (1, 10, 3), 'llama-cpp')
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io.files import load_yaml_config
from ..io.typed import checked
from ..llm.config import TeacherConfig, teacher_config_from_mapping
from ..synthetic.generate import GenerateConfig
from ..synthetic.index import IndexConfig
from ..synthetic.mine import MineConfig
from ..train.config import TrainConfig


@dataclass(frozen=True)
class EvaluateConfig:
    dataset: str | None = None  # a human-labeled dataset folder; no evaluation without it
    pairs: int | None = 200  # a random sample of its judged pairs (None: all)
    seed: int = 0


@dataclass(frozen=True)
class PipelineConfig:
    corpus: str  # dataset folder whose docs.jsonl is the corpus
    index: IndexConfig = IndexConfig()
    generate: GenerateConfig = GenerateConfig()
    mine: MineConfig = MineConfig()
    teacher: TeacherConfig = field(default_factory=lambda: TeacherConfig(kind="llama-cpp", template="rubric"))
    train: TrainConfig = TrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()


def load_pipeline_config(path: str | Path) -> PipelineConfig:
    """Read a pipeline YAML file; unknown keys and wrong types are errors that name the file."""
    return load_yaml_config(path, "a pipeline YAML file: a mapping with one section per stage", _build)


def _build(data: dict[str, Any], base: Path) -> PipelineConfig:
    unknown = sorted(set(data) - {f.name for f in fields(PipelineConfig)})
    if unknown:
        raise ConfigError(
            f"unknown pipeline sections {unknown}; known: {sorted(f.name for f in fields(PipelineConfig))}"
        )
    corpus = data.get("corpus") or {}
    if "dataset" not in corpus:
        raise ConfigError("corpus: needs a dataset folder (corpus: {dataset: DIR})")
    sections: dict[str, Any] = {"corpus": str(base / corpus["dataset"])}
    for name, kind in (("index", IndexConfig), ("mine", MineConfig), ("train", TrainConfig)):
        if name in data:
            sections[name] = kind(**_known(data[name], kind, f"{name} settings"))
    if "generate" in data:
        generate = _known(data["generate"], GenerateConfig, "generate settings")
        if "llm" in generate:
            generate["llm"] = teacher_config_from_mapping(generate["llm"], base)
        sections["generate"] = GenerateConfig(**generate)
    if data.get("teacher"):
        sections["teacher"] = teacher_config_from_mapping(data["teacher"], base)
    if "evaluate" in data:
        evaluate = _known(data["evaluate"], EvaluateConfig, "evaluate settings")
        if evaluate.get("dataset"):
            evaluate["dataset"] = str(base / evaluate["dataset"])
        sections["evaluate"] = EvaluateConfig(**evaluate)
    return PipelineConfig(**sections)


def _known(section: Any, kind: type, what: str) -> dict[str, Any]:
    """The section as keyword arguments of ``kind``: its keys known and its values of the fields' types."""
    return checked(kind, section, what, {"llm": TeacherConfig})
