"""Run the distillation chain stage by stage into an output folder: index, generate, mine, judge, train, evaluate.

Each stage writes its folder and then ``manifest.json`` (its key, config, inputs, versions, counts, seconds). The
key hashes the stage's settings and the keys of the stages it reads, so a re-run skips every stage whose key is
unchanged and re-runs a changed stage and everything after it. Teacher answers live in one store keyed by the
teacher's fingerprint and the pair (``judgments.jsonl``): a re-run, or a killed run, never asks twice.

>>> from qrelforge import load_pipeline_config, run_pipeline
>>> manifests = run_pipeline(load_pipeline_config("examples/dl20-local.yaml"), "out")  # doctest: +SKIP
>>> # (skipped: the local LLM writes and grades queries for minutes; tests/test_pipeline.py runs small chains)
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .. import __version__
from ..datasets import load_dataset
from ..fingerprint import settings_hash
from ..io.files import write_atomic
from ..llm.config import answer_settings
from . import stages
from .config import PipelineConfig
from .outputs import candidate_pairs, human_sample, teacher_store_path

STAGES = ("index", "generate", "mine", "judge", "train", "evaluate")
UPSTREAM = {
    "index": (),
    "generate": ("index",),
    "mine": ("index", "generate"),
    "judge": ("mine",),
    "train": ("judge",),
    "evaluate": ("train",),
}


def stage_keys(config: PipelineConfig) -> dict[str, str]:
    """Each stage's key: a hash of its own settings and of the keys of the stages it reads."""
    teacher = answer_settings(config.teacher)  # a new server URL, key, speed or price changes no answer
    own = {
        "index": {"corpus": config.corpus, **asdict(config.index)},
        "generate": asdict(config.generate) | {"llm": answer_settings(config.generate.llm)},
        "mine": asdict(config.mine),
        "judge": teacher,
        "train": asdict(config.train),
        "evaluate": {"evaluate": asdict(config.evaluate), "teacher": teacher},
    }
    keys: dict[str, str] = {}
    for stage in STAGES:
        parts = {"settings": own[stage], "inputs": [keys[u] for u in UPSTREAM[stage]]}
        keys[stage] = settings_hash(parts)[:16]
    return keys


def plan_stages(config: PipelineConfig, out: Path) -> dict[str, bool]:
    """Which stages a run would execute (True) or skip as up to date (False)."""
    keys = stage_keys(config)
    return {stage: _manifest(out / stage).get("key") != keys[stage] for stage in STAGES}


def run_pipeline(config: PipelineConfig, out: str | Path, progress: bool = True) -> dict[str, dict[str, Any]]:
    """Run every stage that is not up to date; returns each stage's manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keys, manifests = stage_keys(config), {}
    work: dict[str, Callable[..., dict[str, Any]]] = {name: getattr(stages, name) for name in STAGES}
    for stage in STAGES:
        folder = out / stage
        manifest = _manifest(folder)
        if manifest.get("key") == keys[stage]:
            manifests[stage] = manifest
            continue
        started = folder / "started.json"
        if folder.exists() and (not started.is_file() or json.loads(started.read_text())["key"] != keys[stage]):
            shutil.rmtree(folder)  # results of other settings; a started run of these settings resumes
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(started, json.dumps({"key": keys[stage]}))
        begin = time.perf_counter()
        counts = work[stage](config, out, folder, progress)
        manifest = {
            "stage": stage,
            "key": keys[stage],
            "inputs": {u: keys[u] for u in UPSTREAM[stage]},
            "counts": counts,
            "seconds": round(time.perf_counter() - begin, 1),
            "versions": versions(),
            "config": asdict(config),
        }
        text = json.dumps(manifest, indent=1, default=str)
        write_atomic(folder / "manifest.json", text)
        manifests[stage] = json.loads(text)  # as a later run will read it
        started.unlink()
    return manifests


def versions() -> dict[str, str]:
    """The versions that can change a stage's output: Python, qrelforge and the libraries the stages call."""
    from importlib import metadata

    found = {"python": platform.python_version(), "qrelforge": __version__}
    for package in ("bm25s", "PyStemmer", "torch", "transformers", "openai", "llama-cpp-python"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def dry_run(config: PipelineConfig, out: str | Path) -> list[str]:
    """The plan: which stages would run, and at most how many teacher requests they would make, at what cost."""
    from ..judges.base import Batch, TextTable
    from ..judges.load import load_teacher
    from ..records import Pair

    out = Path(out)
    runs = plan_stages(config, out)
    lines = [f"{stage}: {'run' if runs[stage] else 'up to date'}" for stage in STAGES]
    g, m = config.generate, config.mine
    pairs = g.seeds * len(g.styles) * g.per_doc * (1 + sum(b[2] for b in m.bands) + m.random) if runs["judge"] else 0
    if not runs["mine"] and runs["judge"]:
        pairs = len(candidate_pairs(out))
    pairs += len(human_sample(config)[1]) if config.evaluate.dataset and runs["evaluate"] else 0
    docs = load_dataset(config.corpus).docs
    sample = [docs[d] for d in list(docs)[:500]]
    typical = Pair("query", "passage")  # a ten-word query and a passage of the corpus's mean length
    texts = TextTable(
        {"query": "a typical query of ten words"}, {"passage": "x" * (sum(map(len, sample)) // max(len(sample), 1))}
    )
    per_request = load_teacher(config.teacher).worst_case(Batch([typical], texts))
    lines.append(
        f"teacher: at most {pairs:,} requests (answers already in {teacher_store_path(out)} are not asked "
        f"again), about {pairs * per_request.prompt_tokens:,} prompt + {pairs * per_request.completion_tokens:,} "
        f"completion tokens, ${pairs * config.teacher.prices.cost(per_request):.4f}"
    )
    if runs["generate"]:
        lines.append(f"generator: {g.seeds * len(g.styles) * g.per_doc:,} requests")
    return lines
