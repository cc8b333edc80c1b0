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
    ],
)
def test_malformed_config_is_a_usage_error(tmp_path, text, message):
    with pytest.raises(UsageError, match=message):
        load_config(write(tmp_path, text))
