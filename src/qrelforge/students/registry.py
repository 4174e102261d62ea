"""The student kinds, a student folder's card (``qrelforge.json``), its fingerprint, and loading its model.

A folder's card names its ``kind``; the kind's class is found in ``STUDENT_KINDS``. Training writes the card
(``train/card.py``); the local labeler and the Ray actors read it here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputFormatError, QrelforgeError
from ..fingerprint import file_digest, make_fingerprint
from ..io.files import read_json_object
from ..io.weights import check_weight_files
from ..records import StudentCard
from .base import StudentModel, quiet_transformers
from .bi_encoder import BiEncoder
from .causal_lm import CausalLM
from .cross_encoder import CrossEncoder
from .engine import prepare

CARD_FILE = "qrelforge.json"
STUDENT_KINDS = {kind.kind: kind for kind in (BiEncoder, CrossEncoder, CausalLM)}


def read_card(model_dir: str | Path) -> StudentCard:
    """The student's ``qrelforge.json``: kind, grades, thresholds, temperature, max length, training record."""
    path = Path(model_dir) / CARD_FILE
    try:
        return StudentCard.from_json(card_json(model_dir))
    except ValueError as exc:
        raise InputFormatError(
            path, None, "a student's card with kind, grades, thresholds and max_length", str(exc)
        ) from None


def card_json(model_dir: str | Path) -> dict[str, Any]:
    """The card's JSON object as written (its kind checked): what a student's fingerprint hashes."""
    path = Path(model_dir) / CARD_FILE
    if not path.is_file():
        raise InputFormatError(path, None, "a student model folder written by 'qrelforge train'", "no qrelforge.json")
    card = read_json_object(path, "a student's card")
    student_kind(card.get("kind"), str(path))  # an unknown kind is named first, with the known ones
    return card


def student_kind(kind: Any, where: str) -> Any:
    """The model class of a student kind, or a ConfigError that lists the known kinds."""
    if kind not in STUDENT_KINDS:
        raise ConfigError(f"{where}: student kind {kind!r} is unknown; known kinds: {sorted(STUDENT_KINDS)}")
    return STUDENT_KINDS[kind]


def student_fingerprint(model_dir: str | Path, fmt: str) -> str:
    """What fixes a student's outputs: its card, its weight files, and the numeric format it runs in."""
    model_dir = Path(model_dir)
    card = card_json(model_dir)
    kind = student_kind(read_card(model_dir).kind, str(model_dir))  # a card labeling cannot use is named here
    weights = kind.weights(model_dir)
    check_weight_files(weights)  # a truncated copy is named here, before any work
    return make_fingerprint(
        "student", model_dir.name, {"card": card, "weights": [file_digest(path) for path in weights], "format": fmt}
    )


def load_model(model_dir: str | Path, fmt: str, device: str) -> StudentModel:
    """The student's model, ready for inference in ``fmt`` on ``device``."""
    quiet_transformers()
    kind = student_kind(read_card(model_dir).kind, str(model_dir))
    try:
        model = kind.load(Path(model_dir), device)
    except QrelforgeError:
        raise
    except Exception as exc:  # any damaged file of the folder (weights, config, tokenizer): one error, no traceback
        raise InputFormatError(
            model_dir,
            None,
            f"a {kind.kind} student folder written by 'qrelforge train'",
            f"{type(exc).__name__}: {str(exc)[:300]}",
        ) from None
    prepare(model, fmt)
    return model
