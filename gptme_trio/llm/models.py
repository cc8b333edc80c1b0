"""What we know about common models, offline: context window and price (USD per million tokens).

    info = model_info("openai", "gpt-4o-mini")                 # ModelInfo(context=128000, ...)
    info = model_info("local", "qwen2.5", {"local/qwen2.5": {"context": 32768}})

A data table, kept by hand (prices as published by each provider in 2025; check yours).
A model matches the longest name it starts with, after any vendor prefix (openrouter's
"anthropic/claude-sonnet-4-5" is "claude-sonnet-4-5"); config.toml's `[models."PROVIDER/MODEL"]`
(or `[models."MODEL"]`) overrides any field. An unknown model gets DEFAULT_CONTEXT and no price.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_CONTEXT = 32_000  # tokens, for a model the table does not know: small enough to be safe


@dataclass(frozen=True)
class ModelInfo:
    context: int  # tokens the model takes, prompt and reply together
    input_price: float | None = None  # USD per million input tokens; None: unknown
    output_price: float | None = None  # USD per million output tokens
    vision: bool = False  # it takes images (screenshots, image files) in a conversation
    known: bool = True  # False: the defaults, not a table entry or an override

    def cost(self, input_tokens: int, output_tokens: int) -> float | None:
        if self.input_price is None or self.output_price is None:
            return None
        return (input_tokens * self.input_price + output_tokens * self.output_price) / 1_000_000


def _m(context: int, input_price: float | None = None, output_price: float | None = None) -> ModelInfo:
    return ModelInfo(context, input_price, output_price)


def _v(context: int, input_price: float | None = None, output_price: float | None = None) -> ModelInfo:
    """A model that takes images."""
    return ModelInfo(context, input_price, output_price, vision=True)


# name prefix -> info; the longest matching prefix wins ("gpt-4o-mini" before "gpt-4o")
TABLE: dict[str, ModelInfo] = {
    # OpenAI
    "gpt-5": _v(400_000, 1.25, 10.0),
    "gpt-5-mini": _v(400_000, 0.25, 2.0),
    "gpt-5-nano": _v(400_000, 0.05, 0.40),
    "gpt-4.1": _v(1_047_576, 2.0, 8.0),
    "gpt-4.1-mini": _v(1_047_576, 0.40, 1.60),
    "gpt-4.1-nano": _v(1_047_576, 0.10, 0.40),
    "gpt-4o": _v(128_000, 2.50, 10.0),
    "gpt-4o-mini": _v(128_000, 0.15, 0.60),
    "gpt-4-turbo": _v(128_000, 10.0, 30.0),
    "gpt-3.5-turbo": _m(16_385, 0.50, 1.50),
    "o1": _v(200_000, 15.0, 60.0),
    "o3": _v(200_000, 2.0, 8.0),
    "o3-mini": _m(200_000, 1.10, 4.40),
    "o4-mini": _v(200_000, 1.10, 4.40),
    "gpt-oss-120b": _m(131_072, 0.15, 0.75),
    "gpt-oss-20b": _m(131_072, 0.10, 0.50),
    # Anthropic
    "claude-opus-4-5": _v(200_000, 5.0, 25.0),
    "claude-opus-4": _v(200_000, 15.0, 75.0),
    "claude-sonnet-4": _v(200_000, 3.0, 15.0),
    "claude-haiku-4-5": _v(200_000, 1.0, 5.0),
    "claude-3-7-sonnet": _v(200_000, 3.0, 15.0),
    "claude-3-5-sonnet": _v(200_000, 3.0, 15.0),
    "claude-3-5-haiku": _v(200_000, 0.80, 4.0),
    "claude-3-haiku": _v(200_000, 0.25, 1.25),
    "claude-3-opus": _v(200_000, 15.0, 75.0),
    # Google
    "gemini-2.5-pro": _v(1_048_576, 1.25, 10.0),
    "gemini-2.5-flash": _v(1_048_576, 0.30, 2.50),
    "gemini-2.5-flash-lite": _v(1_048_576, 0.10, 0.40),
    "gemini-2.0-flash": _v(1_048_576, 0.10, 0.40),
    "gemini-2.0-flash-lite": _v(1_048_576, 0.075, 0.30),
    "gemini-1.5-pro": _v(2_097_152, 1.25, 5.0),
    "gemini-1.5-flash": _v(1_048_576, 0.075, 0.30),
    # xAI
    "grok-4": _v(256_000, 3.0, 15.0),
    "grok-code-fast": _m(256_000, 0.20, 1.50),
    "grok-3": _m(131_072, 3.0, 15.0),
    "grok-3-mini": _m(131_072, 0.30, 0.50),
    # DeepSeek
    "deepseek-chat": _m(128_000, 0.56, 1.68),
    "deepseek-reasoner": _m(128_000, 0.56, 1.68),
    # Groq (and the same open models elsewhere)
    "llama-3.3-70b": _m(131_072, 0.59, 0.79),
    "llama-3.1-8b": _m(131_072, 0.05, 0.08),
    "kimi-k2": _m(131_072, 1.0, 3.0),
    # Mistral
    "mistral-large": _m(131_072, 2.0, 6.0),
    "mistral-medium": _v(131_072, 0.40, 2.0),
    "mistral-small": _v(131_072, 0.10, 0.30),
    "codestral": _m(256_000, 0.30, 0.90),
    "devstral": _m(131_072, 0.10, 0.30),
    # local models (Ollama names; no price)
    "llama3": _m(8_192),
    "llama3.1": _m(131_072),
    "qwen2.5": _m(32_768),
    "qwen3": _m(40_960),
}

Overrides = Mapping[str, Mapping[str, float | bool]]  # "PROVIDER/MODEL" or "MODEL" -> fields of ModelInfo


def model_info(provider: str, model: str, overrides: Overrides | None = None) -> ModelInfo:
    """The table's entry for `model` (served by `provider`), with the config's overrides applied."""
    name = model.rsplit("/", 1)[-1].lower()  # "anthropic/claude-…" (openrouter), "openai/gpt-oss-120b" (groq)
    match = max((prefix for prefix in TABLE if name.startswith(prefix)), key=len, default=None)
    info = TABLE[match] if match is not None else ModelInfo(DEFAULT_CONTEXT, known=False)
    for key in (model, f"{provider}/{model}"):  # the more specific wins
        fields = (overrides or {}).get(key)
        if fields:
            changes = {k: (int(v) if k == "context" else v if k == "vision" else float(v)) for k, v in fields.items()}
            info = dataclasses.replace(info, **changes, known=True)  # type: ignore[arg-type]
    return info


OVERRIDE_FIELDS = ("context", "input_price", "output_price", "vision")
