"""`chat -r` on a terminal: choose a recent conversation from a numbered list; the last exchange shown on resume.

The list is printed, then the answer is read by the chat's own Prompter (`answer`, prompt_toolkit in its
worker thread; never stored in the prompt history): a number, a name, or Enter for the newest. Ctrl-C or
Ctrl-D there leaves chat (None).
"""

from __future__ import annotations

import sys
from pathlib import Path

from gptme_trio.chat.catalog import count, shorten, summaries, table
from gptme_trio.chat.display import painted
from gptme_trio.chat.prompt import PromptEOF, Prompter, PromptInterrupted
from gptme_trio.chat.store import Conversation, exists
from gptme_trio.core.errors import UsageError

SHOWN = 20  # conversations offered; older ones are resumed by name (--resume NAME, or typed here)
EXCHANGE_CHARS = 800  # of each side of the last exchange shown on resume


async def pick(prompter: Prompter, home: Path) -> str | None:
    """The name of the conversation the user chooses, or None when they leave (Ctrl-C, Ctrl-D)."""
    shown = summaries(home, SHOWN)  # only these logs are read: as fast with 1,000 saved as with 20
    if not shown:
        raise UsageError(f"no conversation to resume in {home / 'conversations'}")
    print("Recent conversations, newest first:", flush=True)
    print("\n".join(table(shown, numbered=True)), flush=True)
    if len(shown) == SHOWN and count(home) > SHOWN:
        print("  ... and older ones (gptme-trio chat --list): type a name", flush=True)
    while True:
        try:
            answer = (await prompter.answer(f"Resume which? [1-{len(shown)}, Enter: 1] ")).strip()  # not history
        except (PromptInterrupted, PromptEOF):
            print("gptme-trio: nothing resumed", file=sys.stderr, flush=True)
            return None
        if not answer:
            return shown[0].name
        if answer.isascii() and answer.isdigit() and 1 <= int(answer) <= len(shown):
            return shown[int(answer) - 1].name
        if exists(home, answer):
            return answer
        print(f"type a number from 1 to {len(shown)} or a name; Ctrl-D leaves", flush=True)


def last_exchange(conversation: Conversation, color: bool = False) -> str:
    """The last question and the answer to it (or what came of it), for a resumed conversation; with
    `color`, each label in its role's colour, as in the chat (`you:` as the prompt's text)."""
    messages = conversation.messages
    start = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user"), None)
    if start is None:
        return ""
    lines = [f"{painted('you:', 'user', color)} {_cut(messages[start].content)}"]
    answer = next((m for m in reversed(messages[start + 1 :]) if m.role == "assistant" and m.content.strip()), None)
    calls = sum(len(m.tool_calls) for m in messages[start + 1 :])
    if calls:
        lines.append(painted(f"  [{calls} tool call(s)]", "tool", color))
    if answer is not None:
        lines.append(f"{painted('assistant:', 'assistant', color)} {_cut(answer.content)}")
    return "\n".join(lines)


def resumed_line(conversation: Conversation, model: str | None) -> str:
    said = sum(m.role != "system" for m in conversation.messages)
    first = next((m.content for m in conversation.messages if m.role == "user"), "")
    messages = "1 message" if said == 1 else f"{said} messages"
    return f"gptme-trio: resumed {conversation.name} ({messages}, model {model or 'none'}): {shorten(first, 40)}"


def _cut(text: str) -> str:
    text = text.strip()
    return text if len(text) <= EXCHANGE_CHARS else text[:EXCHANGE_CHARS].rstrip() + " …"
