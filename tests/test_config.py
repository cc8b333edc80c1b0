"""config.toml: defaults that flags and env vars override; keys only by env var name."""

import pytest

from gptme_trio.chat.config import load_config
from gptme_trio.core.errors import UsageError


def write(tmp_path, text: str) -> dict:
    (tmp_path / "config.toml").write_text(text)
    return {"GPTME_TRIO_HOME": str(tmp_path)}


def test_no_file_is_an_empty_config(tmp_path):
    assert load_config({"GPTME_TRIO_HOME": str(tmp_path)}).model is None


def test_settings_and_provider_env(tmp_path):
    env = write(
        tmp_path,
        """
model = "openai/gpt-4o-mini"
allow_hosts = ["localhost", "127.0.0.1"]
tool_timeout = 5
[search]
engine = "searxng"
url = "http://127.0.0.1:8888"
[providers.openai]
api_key_env = "WORK_KEY"
base_url = "https://gateway.invalid/v1"
""",
    )
    config = load_config(env)
    assert config.model == "openai/gpt-4o-mini" and config.allow_hosts == ("localhost", "127.0.0.1")
    assert config.tool_timeout == 5 and config.search_engine == "searxng"
    merged = config.provider_env({"WORK_KEY": "k1", "OPENAI_API_KEY": "k0"})
    assert merged["OPENAI_API_KEY"] == "k1" and merged["OPENAI_BASE_URL"] == "https://gateway.invalid/v1"
    assert config.provider_env({"OPENAI_BASE_URL": "http://mine/v1"})["OPENAI_BASE_URL"] == "http://mine/v1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model = ", "not valid TOML"),
        ("colour = 'red'", "unknown setting 'colour'"),
        ("max_steps = 'ten'", "max_steps has the wrong type"),
        ("tool_timeout = true", "tool_timeout has the wrong type"),
        ("[providers.acme]\nbase_url = 'x'", "unknown provider"),
        ("[providers.openai]\napi_key = 'sk-oops'", "put the key in an env var"),
        ("[models.'local/q']\ncontext = 'big'", "context must be a whole number of tokens"),
        ("[models.'local/q']\ncontext = 10", "context must be a whole number of tokens >= 256"),
        ("[models.'local/q']\ninput_price = -1", "input_price must be a price"),
        ("[models.'local/q']\nwindow = 8000", "unknown setting 'window'"),
        ("models = 3", "models has the wrong type"),
    ],
)
def test_malformed_config_is_a_usage_error(tmp_path, text, message):
    with pytest.raises(UsageError, match=message):
        load_config(write(tmp_path, text))


def test_model_overrides_and_new_providers(tmp_path):
    env = write(
        tmp_path,
        """
[models."local/qwen2.5"]
context = 32768
output_price = 0.5
[providers.gemini]
api_key_env = "MY_GEMINI"
base_url = "http://127.0.0.1:9/v1"
""",
    )
    config = load_config(env)
    assert config.models == {"local/qwen2.5": {"context": 32768, "output_price": 0.5}}
    merged = config.provider_env({"MY_GEMINI": "g"})
    assert merged["GEMINI_API_KEY"] == "g" and merged["GEMINI_BASE_URL"] == "http://127.0.0.1:9/v1"
    assert {"GEMINI_API_KEY", "XAI_API_KEY", "MISTRAL_API_KEY", "MY_GEMINI"} <= config.key_vars()
