"""Secret redaction in provider error messages (issue 14, item 28): a short key is redacted only as a
whole token, never out of ordinary words; a long one everywhere, cut-off prefixes included."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gptme_trio.llm.sse import redact


def test_a_short_key_is_redacted_only_as_a_whole_token():
    assert redact("invalid key: k (keep the kettle)", "k") == "invalid key: *** (keep the kettle)"
    assert redact("Bearer abc, abcdef", "abc") == "Bearer ***, abcdef"


def test_a_long_key_is_redacted_everywhere_with_its_cut_off_prefixes():
    key = "sk-test-0123456789abcdef"
    assert redact(f"key={key}; echoed: '{key[:12]}…'", key) == "key=***; echoed: '***…'"


@given(
    words=st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=12), min_size=1, max_size=8),
    key=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=7),
)
def test_words_that_merely_contain_a_short_key_stay_whole(words, key):
    text = " ".join(w for w in words if w != key)
    assert redact(text, key) == text
    assert redact(f"{text} {key}", key) == f"{text} ***"
