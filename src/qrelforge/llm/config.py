"""A teacher's configuration: one small YAML file naming the backend, model, prompt, scale, decoding and prices.

    kind: openai                      # or llama-cpp (a GGUF model in process)
    model: gpt-4o                     # llama-cpp: path of a .gguf file (default: SmolLM2-135M-Instruct)
    base_url: http://127.0.0.1:8000/v1   # default: $OPENAI_BASE_URL, else OpenAI's; the key: $OPENAI_API_KEY
    template: umbrela                 # or rubric, or a template file
    guidelines: guidelines.txt        # optional assessor guidelines, put into the prompt
    max_passage_chars: 4000           # longer passages are cut in the prompt (null: never)
    fence_passage: true               # the passage between <passage> tags, marker-like lines quoted (injection)
    flag_instructions: false          # true: judgments of passages with instruction-like text are marked
    few_shot: {labels: qrels.txt, dataset: data/dl19, per_grade: 1}
    scale: {grades: [0, 1, 2, 3], meanings: [...]}
    temperature: 0
    max_tokens: 32
    samples: 1                        # n answers per pair, combined by vote: majority or mean
    logprobs: true                    # ask for per-grade probabilities (top_logprobs alternatives)
    concurrency: 8                    # requests in flight at once (on Ray: over all actors together)
    requests_per_minute: 500          # optional: HTTP attempts a minute, retries included (on Ray: all actors)
    prices: {input_per_million: 2.5, output_per_million: 10.0}   # US$ per million tokens

Relative paths are read from the YAML file's folder.

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "teacher.yaml"
>>> _ = path.write_text("model: gpt-4o\\nprices: {input_per_million: 2.5, output_per_million: 10}\\n")
>>> teacher = load_teacher_config(path)
>>> teacher.template, teacher.prices.cost(Usage(1, 1000, 10))
('umbrela', 0.0026)
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io.files import load_yaml_config
from ..io.typed import checked
from ..records import GradeScale, Usage

KINDS = ("openai", "llama-cpp")
VOTES = ("majority", "mean")
RESPONSE_FORMATS = ("text", "json_schema", "json_object")


@dataclass(frozen=True)
class Prices:
    """US dollars per million prompt (input) and completion (output) tokens."""

    input_per_million: float = 0.0
    output_per_million: float = 0.0

    def cost(self, usage: Usage) -> float:
        return (usage.prompt_tokens * self.input_per_million + usage.completion_tokens * self.output_per_million) / 1e6

    def __post_init__(self) -> None:
        for name in ("input_per_million", "output_per_million"):
            if getattr(self, name) < 0:
                raise ConfigError(
                    f"prices: {name} must be zero or more (US$ per million tokens); got {getattr(self, name)}"
                )


@dataclass(frozen=True)
class FewShotConfig:
    labels: str  # TREC qrels of labeled pairs
    dataset: str  # the folder with their texts
    per_grade: int = 1
    seed: int = 0


@dataclass(frozen=True)
class TeacherConfig:
    kind: str = "openai"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    template: str = "umbrela"
    guidelines: str | None = None
    few_shot: FewShotConfig | None = None
    max_passage_chars: int | None = 4000  # passages are cut to this many characters in the prompt
    fence_passage: bool = True  # the passage fenced as data, its marker-like lines quoted (llm/fence.py)
    flag_instructions: bool = False  # mark judgments whose passage holds instruction-like text
    scale: GradeScale = GradeScale()
    temperature: float = 0.0
    max_tokens: int = 32
    samples: int = 1
    vote: str = "majority"
    logprobs: bool = True
    top_logprobs: int = 5
    # json_schema (OpenAI, Azure, vLLM, Ollama) or json_object (llama-cpp-python's server): {"score": N} is enforced
    response_format: str = "text"
    concurrency: int = 8
    requests_per_minute: float | None = None  # null: no rate limit
    timeout: float = 60.0  # seconds per request attempt
    max_retries: int = 4  # on 429, 5xx, timeouts and dropped connections, with backoff and Retry-After
    prices: Prices = field(default_factory=Prices)

    def __post_init__(self) -> None:
        for name, value, known in (
            ("kind", self.kind, KINDS),
            ("vote", self.vote, VOTES),
            ("response_format", self.response_format, RESPONSE_FORMATS),
        ):
            if value not in known:
                raise ConfigError(f"teacher {name} {value!r} is unknown; known: {list(known)}")
        if self.kind == "openai" and not self.model:
            raise ConfigError("an openai teacher needs a model name (model: ...)")
        for name in ("samples", "concurrency", "max_tokens", "top_logprobs"):
            if getattr(self, name) < 1:
                raise ConfigError(f"teacher {name} must be at least 1; got {getattr(self, name)}")
        for name, low in (("temperature", 0.0), ("max_retries", 0)):
            if getattr(self, name) < low:
                raise ConfigError(f"teacher {name} must be {low} or more; got {getattr(self, name)}")
        if self.requests_per_minute is not None and self.requests_per_minute <= 0:
            raise ConfigError(
                f"teacher requests_per_minute must be more than 0 (or null); got {self.requests_per_minute}"
            )
        if self.timeout <= 0:
            raise ConfigError(f"teacher timeout must be more than 0 seconds; got {self.timeout}")
        if self.max_passage_chars is not None and self.max_passage_chars < 1:
            raise ConfigError(
                f"teacher max_passage_chars must be at least 1 (or null: never cut); got {self.max_passage_chars}"
            )
        if self.base_url is not None:
            check_base_url(self.base_url, "teacher base_url")


def check_base_url(url: str, where: str) -> str:
    """``url`` if it is an http(s) URL with a host (``http://127.0.0.1:8000/v1``), else a ConfigError naming
    ``where`` it came from."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number raises here
    except ValueError as exc:
        raise ConfigError(f"{where} {url!r} is not a URL ({exc}); expected e.g. http://127.0.0.1:8000/v1") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{where} {url!r} is not an http(s) URL with a host; expected e.g. "
            f"http://127.0.0.1:8000/v1 or https://api.openai.com/v1"
        )
    return url


NESTED = {"scale": GradeScale, "prices": Prices, "few_shot": FewShotConfig}  # read section by section
CONNECTION_FIELDS = ("base_url", "api_key_env", "concurrency", "timeout", "max_retries", "prices")


def answer_settings(config: TeacherConfig) -> dict[str, Any]:
    """The settings that can change an LLM's answers: all but where and how fast it is asked, and what it costs."""
    return {f.name: getattr(config, f.name) for f in fields(config) if f.name not in CONNECTION_FIELDS}


def load_teacher_config(path: str | Path) -> TeacherConfig:
    """Read a teacher YAML file; unknown keys and wrong types are errors that name the file."""
    return load_yaml_config(path, "a teacher YAML file: a mapping of teacher settings", teacher_config_from_mapping)


def teacher_config_from_mapping(data: dict[str, Any], base: Path) -> TeacherConfig:
    """A TeacherConfig from parsed YAML; relative paths are read from ``base``."""
    return TeacherConfig(**_nested(data, base))


def _nested(data: dict[str, Any], base: Path) -> dict[str, Any]:
    out = checked(TeacherConfig, data, "teacher settings", NESTED)
    if "scale" in out:
        scale = checked(GradeScale, out["scale"], "teacher settings: scale")
        out["scale"] = GradeScale(tuple(scale.get("grades", ())), tuple(scale.get("meanings", ())))
    if "prices" in out:
        out["prices"] = Prices(**checked(Prices, out["prices"], "teacher settings: prices"))
    if "few_shot" in out:
        shots = checked(FewShotConfig, out["few_shot"], "teacher settings: few_shot")
        shots.update({k: str(base / shots[k]) for k in ("labels", "dataset") if k in shots})
        out["few_shot"] = FewShotConfig(**shots)
    for key in ("guidelines",) + (("model",) if out.get("kind") == "llama-cpp" else ()):
        if out.get(key):
            out[key] = str(base / out[key])
    if out.get("template") and Path(base / out["template"]).is_file():
        out["template"] = str(base / out["template"])
    return out
