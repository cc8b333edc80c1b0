"""From "PROVIDER/MODEL" to a Provider: one dict of factories, no if-chains.

    provider = resolve("openrouter/meta-llama/llama-3-8b", os.environ, client)
    build = prepare("openai/gpt-4o-mini", os.environ)    # the checks alone, before any client exists

A factory checks the environment and returns how to build the provider once there is an HTTP client:
so `prepare` tells what is missing without importing httpx or the providers (chat checks its model
before it draws the prompt, and loads those while the user types).

Each factory reads only the environment it is given and raises
ProviderConfigError naming the exact variable to set. Keys never appear in a
message or a repr.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, overload
from urllib.parse import urlsplit

from gptme_trio.core.errors import ProviderConfigError
from gptme_trio.llm import Provider

if TYPE_CHECKING:
    import httpx

Env = Mapping[str, str]
Build = Callable[["httpx.AsyncClient"], Provider]


@dataclass(frozen=True)
class _Entry:
    factory: Callable[[str, Env], Build]
    needs: str  # one line for help text


def resolve(spec: str, env: Env, client: httpx.AsyncClient) -> Provider:
    """The provider for `spec` ("PROVIDER/MODEL"; MODEL may hold slashes), configured from `env`."""
    return prepare(spec, env)(client)


def prepare(spec: str, env: Env) -> Build:
    """How to build the provider for `spec` from a client; ProviderConfigError now if it cannot be."""
    name, slash, model = spec.partition("/")
    if not slash or not name or not model:
        raise ProviderConfigError(f"model must be PROVIDER/MODEL (e.g. openai/gpt-4o-mini), got {spec!r}")
    entry = _REGISTRY.get(name)
    if entry is None:
        raise ProviderConfigError(f"unknown provider {name!r} in {spec!r}: use one of {', '.join(PROVIDERS)}")
    return entry.factory(model, env)


def describe(name: str) -> str:
    """What a provider needs from the environment, for help text."""
    return _REGISTRY[name].needs


def _get(env: Env, var: str) -> str | None:
    value = env.get(var, "").strip()
    return value or None


@overload
def _url(env: Env, var: str, default: str) -> str: ...
@overload
def _url(env: Env, var: str, default: None = None) -> str | None: ...
def _url(env: Env, var: str, default: str | None = None) -> str | None:
    value = _get(env, var) or default
    if value is not None and not value.startswith(("http://", "https://")):
        raise ProviderConfigError(f"{var} must start with http:// or https://, got {value!r}")
    return value


def _require(env: Env, var: str, why: str) -> str:
    value = _get(env, var)
    if value is None:
        raise ProviderConfigError(f"{var} is not set: export {var}=... {why}")
    return value


def _compatible(model: str, base_url: str, api_key: str | None, name: str, stream_usage: bool = True) -> Build:
    def build(client: httpx.AsyncClient) -> Provider:
        from gptme_trio.llm.openai import OpenAICompatible

        return OpenAICompatible(
            client, model=model, base_url=base_url, api_key=api_key, name=name, stream_usage=stream_usage
        )

    return build


def _openai(model: str, env: Env) -> Build:
    key = _require(env, "OPENAI_API_KEY", f"to use openai/{model}")
    return _compatible(model, _url(env, "OPENAI_BASE_URL", "https://api.openai.com/v1"), key, "openai")


def _anthropic(model: str, env: Env) -> Build:
    key = _require(env, "ANTHROPIC_API_KEY", f"to use anthropic/{model}")
    base = _url(env, "ANTHROPIC_BASE_URL", "https://api.anthropic.com")

    def build(client: httpx.AsyncClient) -> Provider:
        from gptme_trio.llm.anthropic import Anthropic

        return Anthropic(client, model=model, base_url=base, api_key=key)

    return build


def _openrouter(model: str, env: Env) -> Build:
    key = _require(env, "OPENROUTER_API_KEY", f"to use openrouter/{model}")
    return _compatible(model, _url(env, "OPENROUTER_BASE_URL", "https://openrouter.ai/api/v1"), key, "openrouter")


def _ollama(model: str, env: Env) -> Build:
    host = ollama_url(_get(env, "OLLAMA_HOST") or "http://127.0.0.1:11434")
    return _compatible(model, f"{host}/v1", None, "ollama")


def _local(model: str, env: Env) -> Build:
    why = f"pointing at your OpenAI-compatible server (e.g. http://127.0.0.1:8080/v1) to use local/{model}"
    base = _url(env, "OPENAI_BASE_URL") or _require(env, "OPENAI_BASE_URL", why)
    return _compatible(model, base, _get(env, "OPENAI_API_KEY"), "local")


@dataclass(frozen=True)
class Preset:
    """An OpenAI-compatible service: where it is and which variable holds its key."""

    key_var: str
    url_var: str
    url: str
    stream_usage: bool = True  # False: the API refuses `stream_options` (it sends usage anyway)


PRESETS: dict[str, Preset] = {
    "gemini": Preset("GEMINI_API_KEY", "GEMINI_BASE_URL", "https://generativelanguage.googleapis.com/v1beta/openai"),
    "xai": Preset("XAI_API_KEY", "XAI_BASE_URL", "https://api.x.ai/v1"),
    "deepseek": Preset("DEEPSEEK_API_KEY", "DEEPSEEK_BASE_URL", "https://api.deepseek.com"),
    "groq": Preset("GROQ_API_KEY", "GROQ_BASE_URL", "https://api.groq.com/openai/v1"),
    "mistral": Preset("MISTRAL_API_KEY", "MISTRAL_BASE_URL", "https://api.mistral.ai/v1", stream_usage=False),
}


def _preset(name: str, model: str, env: Env) -> Build:
    preset = PRESETS[name]
    key = _require(env, preset.key_var, f"to use {name}/{model}")
    return _compatible(model, _url(env, preset.url_var, preset.url), key, name, preset.stream_usage)


def ollama_url(host: str) -> str:
    """OLLAMA_HOST as Ollama reads it: "host", "host:port" or a URL; bare hosts get port 11434."""
    host = host.strip().rstrip("/")
    if "://" in host:
        return host
    url = f"http://{host}"
    try:
        port = urlsplit(url).port
    except ValueError as exc:
        raise ProviderConfigError(f"OLLAMA_HOST is not a host[:port] or URL: {host!r}") from exc
    return url if port is not None else f"{url}:11434"


_REGISTRY: dict[str, _Entry] = {
    "openai": _Entry(_openai, "OPENAI_API_KEY (OPENAI_BASE_URL to override https://api.openai.com/v1)"),
    "anthropic": _Entry(_anthropic, "ANTHROPIC_API_KEY (ANTHROPIC_BASE_URL to override https://api.anthropic.com)"),
    "openrouter": _Entry(_openrouter, "OPENROUTER_API_KEY (OPENROUTER_BASE_URL to override)"),
    "ollama": _Entry(_ollama, "no key; OLLAMA_HOST (default http://127.0.0.1:11434)"),
    "local": _Entry(_local, "OPENAI_BASE_URL of an OpenAI-compatible server; OPENAI_API_KEY optional"),
    **{
        name: _Entry(partial(_preset, name), f"{p.key_var} ({p.url_var} to override {p.url})")
        for name, p in PRESETS.items()
    },
}
PROVIDERS: tuple[str, ...] = tuple(_REGISTRY)
