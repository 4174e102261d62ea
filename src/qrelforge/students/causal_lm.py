"""Causal-LM student: a Hugging Face causal language model, fine-tuned with LoRA to answer a judge prompt's grade.

The prompt is a judge template (``rubric`` by default, with the assessor guidelines) followed by ``Score:``. One
forward pass reads, at the prompt's last token, the logits of the grade tokens only: a distribution over the grades,
no sampling and no parsing. Only the last hidden state of each pair meets the grade rows of the output layer, so the
vocabulary-wide logits are never built. Position ids follow the attention mask, so padding (left or right) and batch
composition do not change the result. At inference the prompt's shared head (instructions, scale, guidelines: the
text before the query) runs once per batch, and every pair attends to its cached keys and values.

Only the LoRA adapter is trained. It is saved alone (the base is then loaded by the path in ``causal_lm.json``) or
folded into the base as a whole model (``merge_lora``); a loaded student always runs with the adapter folded in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io.files import read_json_object, write_atomic
from ..llm.prompt import Prompt, load_template
from .base import Features, device_of, pad

ANSWER = "\nScore:"  # what every prompt ends with; the grade token comes next
SETTINGS_FILE = "causal_lm.json"
PASSAGE_MARK, QUERY_MARK = "\x00passage\x00", "\x00query\x00"


def answer_tokens(tokenizer: Any, grades: Sequence[int]) -> tuple[list[int], list[int]]:
    """The ids every prompt ends with, and the single token of each grade that follows them."""
    full = [tokenizer.encode(f"{ANSWER} {g}", add_special_tokens=False) for g in grades]
    shared = 0
    while all(len(f) > shared for f in full) and len({f[shared] for f in full}) == 1:
        shared += 1
    grade_ids = [f[shared] for f in full if len(f) == shared + 1]
    if len(grade_ids) != len(full) or len(set(grade_ids)) != len(grades):
        raise ConfigError(
            f"the tokenizer does not write each grade {list(grades)} as one distinct token after "
            f"{ANSWER!r}; a causal-LM student needs that"
        )
    return full[0][:shared], grade_ids


class CausalLM:
    kind = "causal-lm"

    def __init__(self, module: Any, tokenizer: Any, settings: dict[str, Any], merge: bool = False) -> None:
        if tokenizer.pad_token is None:  # most causal LMs have none; padding is masked out anyway
            tokenizer.pad_token = tokenizer.eos_token
        self.module, self.tokenizer, self.settings, self.merge = module, tokenizer, settings, merge
        self.num_grades = len(settings["grades"])
        self.prompt = Prompt(
            settings["template_text"], guidelines=settings.get("guidelines", ""), max_passage_chars=None
        )
        self.answer_ids, self.grade_ids = answer_tokens(tokenizer, settings["grades"])
        bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
        template = self.prompt.render(QUERY_MARK, PASSAGE_MARK)
        self.prefix_text = template[: min(template.index(QUERY_MARK), template.index(PASSAGE_MARK))]
        self.prefix_ids = bos + tokenizer.encode(self.prefix_text, add_special_tokens=False)

    @classmethod
    def from_base(cls, base: str, grades: Sequence[int], device: str, config: Any) -> CausalLM:
        """LoRA adapters (rank, alpha, dropout, target modules from ``config``) on a causal LM folder."""
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model: Any = AutoModelForCausalLM.from_pretrained(base)
        model = model.to(device)
        if config.gradient_checkpointing:
            model.gradient_checkpointing_enable()
            model.enable_input_require_grads()
        lora = LoraConfig(
            r=config.lora_rank,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=list(config.lora_targets),
            bias="none",
        )
        settings = {
            "base": str(base),
            "grades": list(grades),
            "template_text": load_template(config.template),
            "guidelines": config.guidelines,
        }
        return cls(get_peft_model(model, lora), AutoTokenizer.from_pretrained(base), settings, config.merge_lora)

    @classmethod
    def weights(cls, folder: Path) -> list[Path]:
        """The settings and the weights: the merged model's, or the adapter's and its base's."""
        base = read_json_object(folder / SETTINGS_FILE, "a causal-LM student's settings").get("base")
        return [folder / SETTINGS_FILE] + _weight_files(folder) + (_weight_files(Path(base)) if base else [])

    @classmethod
    def load(cls, folder: Path, device: str) -> CausalLM:
        """A saved student, with its adapter folded into the base (as fast as the base alone, and quantizable)."""
        from peft import PeftModel
        from transformers import AutoModelForCausalLM, AutoTokenizer

        settings = read_json_object(Path(folder) / SETTINGS_FILE, "a causal-LM student's settings")
        model: Any
        if settings["base"]:
            adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(settings["base"]), folder)
            model = adapted.merge_and_unload()
        else:
            model = AutoModelForCausalLM.from_pretrained(folder)
        return cls(model.to(device), AutoTokenizer.from_pretrained(folder), settings)

    def encode(self, queries: Sequence[str], docs: Sequence[str], max_length: int) -> list[Features]:
        """Prompt ids per pair; the passage alone is cut so that the whole prompt fits ``max_length`` tokens."""
        tok = self.tokenizer
        out = []
        for query, doc in zip(queries, docs):
            head, tail = self.prompt.render(query, PASSAGE_MARK).split(PASSAGE_MARK)
            head_ids = self.prefix_ids + tok.encode(head[len(self.prefix_text) :], add_special_tokens=False)
            tail_ids = tok.encode(tail.rstrip(), add_special_tokens=False) + self.answer_ids
            room = max_length - len(head_ids) - len(tail_ids)
            if room <= 0:
                raise ConfigError(
                    f"max_length {max_length} leaves no room for the passage: the prompt without it "
                    f"already takes {len(head_ids) + len(tail_ids)} tokens"
                )
            out.append({"input_ids": head_ids + tok.encode(doc, add_special_tokens=False)[:room] + tail_ids})
        return out

    def length(self, features: Features) -> int:
        return len(features["input_ids"])

    def log_probs(self, features: Sequence[Features]) -> Any:
        """Log-probabilities of the grade tokens at each prompt's last token, renormalized over the grades.

        In training every prompt runs whole; at inference the shared head runs once and is cached for the batch.
        """
        import torch

        causal = self._causal()
        shared = 0 if self.module.training else len(self.prefix_ids)
        batch = pad(self.tokenizer, [{"input_ids": f["input_ids"][shared:]} for f in features], device_of(self.module))
        mask = batch["attention_mask"]
        inputs = {"input_ids": batch["input_ids"], "position_ids": shared + (mask.cumsum(-1) - 1).clamp_min(0)}
        if shared:
            cache = causal.get_decoder()(
                input_ids=torch.tensor([self.prefix_ids], device=mask.device), use_cache=True
            ).past_key_values
            cache.batch_repeat_interleave(len(features))
            inputs |= {
                "past_key_values": cache,
                "use_cache": True,
                "attention_mask": torch.cat([mask.new_ones(len(features), shared), mask], dim=1),
            }
        else:
            inputs["attention_mask"] = mask
        hidden = causal.get_decoder()(**inputs).last_hidden_state
        last = (mask * torch.arange(mask.shape[1], device=mask.device)).argmax(-1)  # either padding side
        final = hidden[torch.arange(len(features), device=hidden.device), last]
        weight = self._grade_rows(causal)
        logits = final.float() @ weight.float().T
        cap = getattr(causal.config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return torch.log_softmax(logits, dim=-1)

    def param_groups(self, learning_rate: float, head_learning_rate: float) -> list[dict[str, Any]]:
        """The LoRA adapters only (``head_learning_rate`` unused: there is no separate head)."""
        return [{"params": [p for p in self.module.parameters() if p.requires_grad], "lr": learning_rate}]

    def use_cache(self, fmt: str) -> None:
        """Nothing to cache: this kind reads query and passage together."""

    def save(self, folder: Path) -> None:
        """The adapter alone, or with ``merge`` the whole model with the adapter folded in; the tokenizer and settings.

        Merging replaces the trainable adapter layers: saving is the last step of training.
        """
        settings = self.settings
        if self.merge:
            self.module = self.module.merge_and_unload()
            settings = settings | {"base": None}
        self.module.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        write_atomic(Path(folder) / SETTINGS_FILE, json.dumps(settings, indent=2) + "\n")

    def _causal(self) -> Any:
        """The causal LM under the LoRA wrapper (a loaded student has none: its adapter is folded in)."""
        return self.module.get_base_model() if hasattr(self.module, "get_base_model") else self.module

    def _grade_rows(self, causal: Any) -> Any:
        """The output layer's rows of the grade tokens (an int8 layer keeps its weight behind a call)."""
        weight = causal.get_output_embeddings().weight
        weight = weight() if callable(weight) else weight
        return (weight.dequantize() if weight.is_quantized else weight)[self.grade_ids]


def _weight_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
