"""Defaults from `config.toml`; options on the command line and env vars win over it.

Where: $GPTME_TRIO_HOME/config.toml when GPTME_TRIO_HOME is set, else the platform's
user config directory (e.g. ~/.config/gptme-trio/config.toml).

    model = "anthropic/claude-sonnet-4-5"
    allow_hosts = ["localhost"]
    tool_timeout = 30
    llm_timeout = 120
    max_steps = 20
    tools = ["read_url", "search", "shell", "read_file", "patch_file"]   # the tools the model gets
    allow_paths = ["~/notes"]           # trees the file tools may touch besides the start directory
    shell_max_timeout = 600             # the longest timeout a shell call may ask for (seconds)

    [search]
    engine = "searxng"                  # or "duckduckgo"
    url = "http://127.0.0.1:8888"

    [models."local/qwen2.5"]            # the built-in table of context windows and prices, overridden
    context = 32768                     # tokens; compaction starts at 80% of it
    input_price = 0.0                   # USD per million tokens (for /tokens)
    output_price = 0.0
    vision = false                      # whether it takes images (screenshots, image files)

    [mcp.servers.github]                # an MCP server whose tools chat offers as github__TOOL
    command = "npx"                     # stdio (or url = "http://127.0.0.1:8765/mcp")
    args = ["-y", "@modelcontextprotocol/server-github"]
    env = { GITHUB_PERSONAL_ACCESS_TOKEN = "${GITHUB_TOKEN}" }   # ${VAR}: chat's variable, not a secret here
    tools = ["search_issues"]           # an allowlist; also enabled = false, start_timeout, headers (url)

    [providers.openai]                  # keys are named, never written here
    api_key_env = "WORK_OPENAI_KEY"     # read the key from this variable instead of OPENAI_API_KEY
    base_url = "https://gateway.example/v1"
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gptme_trio.core.errors import UsageError

# provider -> (its API key variable, its base URL variable)
PROVIDER_ENV = {
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
    "local": ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
    "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
    "openrouter": ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL"),
    "ollama": (None, "OLLAMA_HOST"),
    "gemini": ("GEMINI_API_KEY", "GEMINI_BASE_URL"),
    "xai": ("XAI_API_KEY", "XAI_BASE_URL"),
    "deepseek": ("DEEPSEEK_API_KEY", "DEEPSEEK_BASE_URL"),
    "groq": ("GROQ_API_KEY", "GROQ_BASE_URL"),
    "mistral": ("MISTRAL_API_KEY", "MISTRAL_BASE_URL"),
}
_TOP: dict[str, type | tuple[type, ...]] = {
    "model": str,
    "allow_hosts": list,
    "tool_timeout": (int, float),
    "llm_timeout": (int, float),
    "max_steps": int,
    "tools": list,
    "allow_paths": list,
    "shell_max_timeout": (int, float),
    "search": dict,
    "providers": dict,
    "models": dict,
    "mcp": dict,
}


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    model: str | None = None
    allow_hosts: tuple[str, ...] = ()
    tool_timeout: float | None = None
    llm_timeout: float | None = None
    max_steps: int | None = None
    tools: tuple[str, ...] | None = None
    allow_paths: tuple[str, ...] = ()
    shell_max_timeout: float | None = None
    search_engine: str | None = None
    search_url: str | None = None
    providers: dict[str, dict[str, str]] = field(default_factory=dict)
    models: dict[str, dict[str, float | bool]] = field(default_factory=dict)  # llm.models overrides
    mcp: dict[str, Any] = field(default_factory=dict)  # [mcp.servers.NAME]: checked by mcp/servers.py (the CLI)

    def key_vars(self) -> set[str]:
        """The names of every variable that may hold an API key (built in, and named in the config)."""
        names = {key_var for key_var, _ in PROVIDER_ENV.values() if key_var}
        return names | {s["api_key_env"] for s in self.providers.values() if s.get("api_key_env")}

    def provider_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """`env` with the config's key variables and base URLs applied (env vars still win for URLs)."""
        merged = dict(env)
        for name, settings in self.providers.items():
            key_var, url_var = PROVIDER_ENV[name]
            source = settings.get("api_key_env")
            if key_var and source and env.get(source):
                merged[key_var] = env[source]
            if url_var and settings.get("base_url") and not env.get(url_var):
                merged[url_var] = settings["base_url"]
        return merged


def config_path(env: Mapping[str, str] = os.environ) -> Path:
    if env.get("GPTME_TRIO_HOME"):
        return Path(env["GPTME_TRIO_HOME"]).expanduser() / "config.toml"
    from platformdirs import user_config_dir

    return Path(user_config_dir("gptme-trio")) / "config.toml"


def load_config(env: Mapping[str, str] = os.environ) -> Config:
    """The config file's settings (empty if there is none); UsageError if it is malformed."""
    path = config_path(env)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read ({exc})") from exc
    import tomllib  # here: with no config file, chat's start-up does without it

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from exc
    for key, value in data.items():
        if key not in _TOP:
            raise UsageError(f"{path}: unknown setting {key!r} (known: {', '.join(_TOP)})")
        if not isinstance(value, _TOP[key]) or isinstance(value, bool):
            raise UsageError(f"{path}: {key} has the wrong type")
    for key in (
        "tool_timeout",
        "llm_timeout",
        "shell_max_timeout",
    ):  # as the flags: a number of seconds > 0 (TOML has nan and -inf)
        if key in data and not data[key] > 0:
            raise UsageError(f"{path}: {key} must be a number of seconds > 0, got {data[key]}")
    if "max_steps" in data and not 1 <= data["max_steps"] <= 1000:
        raise UsageError(f"{path}: max_steps must be between 1 and 1000, got {data['max_steps']}")
    if not all(isinstance(h, str) for h in data.get("allow_hosts", [])):
        raise UsageError(f"{path}: allow_hosts must be a list of host names")
    for key in ("tools", "allow_paths"):
        if not all(isinstance(item, str) for item in data.get(key, [])):
            raise UsageError(f"{path}: {key} must be a list of strings")
    providers = data.get("providers", {})
    for name, settings in providers.items():
        if name not in PROVIDER_ENV or not isinstance(settings, dict):
            raise UsageError(f"{path}: [providers.{name}]: unknown provider (known: {', '.join(PROVIDER_ENV)})")
        if "api_key" in settings:
            raise UsageError(f"{path}: [providers.{name}]: put the key in an env var and name it with api_key_env")
        _check_table(path, f"providers.{name}", settings, ("api_key_env", "base_url"))
    models = data.get("models", {})
    for name, fields in models.items():
        _check_model(path, name, fields)
    search: dict[str, Any] = data.get("search", {})
    _check_table(path, "search", search, ("engine", "url"))
    return Config(
        path=path,
        model=data.get("model"),
        allow_hosts=tuple(data.get("allow_hosts", [])),
        tool_timeout=data.get("tool_timeout"),
        llm_timeout=data.get("llm_timeout"),
        max_steps=data.get("max_steps"),
        tools=tuple(data["tools"]) if "tools" in data else None,
        allow_paths=tuple(data.get("allow_paths", [])),
        shell_max_timeout=data.get("shell_max_timeout"),
        search_engine=search.get("engine"),
        search_url=search.get("url"),
        providers={name: dict(s) for name, s in providers.items()},
        models={name: dict(fields) for name, fields in models.items()},
        mcp=data.get("mcp", {}),
    )


def _check_model(path: Path, name: str, fields: Any) -> None:
    where = f"{path}: [models.{name!r}]" if "/" in name or "." in name else f"{path}: [models.{name}]"
    if not isinstance(fields, dict):
        raise UsageError(f"{where}: must be a table of {', '.join(_MODEL_FIELDS)}")
    for key, value in fields.items():
        if key not in _MODEL_FIELDS:
            raise UsageError(f"{where}: unknown setting {key!r} (known: {', '.join(_MODEL_FIELDS)})")
        if key == "vision":
            if not isinstance(value, bool):
                raise UsageError(f"{where}: vision must be true or false, got {value!r}")
        elif key == "context" and not (isinstance(value, int) and not isinstance(value, bool) and value >= 256):
            raise UsageError(f"{where}: context must be a whole number of tokens >= 256, got {value!r}")
        elif key != "context" and not (isinstance(value, int | float) and not isinstance(value, bool) and value >= 0):
            raise UsageError(f"{where}: {key} must be a price in USD per million tokens >= 0, got {value!r}")


_MODEL_FIELDS = ("context", "input_price", "output_price", "vision")


def _check_table(path: Path, name: str, table: dict[str, Any], known: tuple[str, ...]) -> None:
    for key, value in table.items():
        if key not in known:
            raise UsageError(f"{path}: [{name}]: unknown setting {key!r} (known: {', '.join(known)})")
        if not isinstance(value, str):
            raise UsageError(f"{path}: [{name}]: {key} must be a string")
