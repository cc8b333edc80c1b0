"""Conversations as append-only JSONL files under the user data directory.

    <home>/conversations/<name>/conversation.jsonl    one JSON message per line

`home` is $GPTME_TRIO_HOME, else the platform's user data directory. Each
message is written with one `write` on an O_APPEND descriptor and flushed, so a
process killed mid-turn leaves whole lines; a torn last line is skipped on load
(and reported), never fatal. Files are created mode 0600.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError
from .llm import Message, ToolCall

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def home_dir(env: Mapping[str, str] = os.environ) -> Path:
    if env.get("GPTME_TRIO_HOME"):
        return Path(env["GPTME_TRIO_HOME"]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("gptme-trio"))


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(f"--name {name!r}: use letters, digits, '.', '_' or '-' (at most 100)")
    return name


@dataclass
class Conversation:
    directory: Path
    messages: list[Message] = field(default_factory=list)
    skipped_lines: int = 0  # torn or garbage lines found on load

    @property
    def name(self) -> str:
        return self.directory.name

    @property
    def path(self) -> Path:
        return self.directory / "conversation.jsonl"

    @classmethod
    def create(cls, home: Path, name: str | None = None) -> Conversation:
        root = home / "conversations"
        name = check_name(name) if name else time.strftime("%Y%m%d-%H%M%S")
        directory, n = root / name, 1
        while directory.exists():
            n += 1
            directory = root / f"{name}-{n}"
        directory.mkdir(parents=True, mode=0o700)
        return cls(directory)

    @classmethod
    def open(cls, home: Path, name: str | None = None) -> Conversation:
        """Load `name`, or the most recently written conversation."""
        root = home / "conversations"
        if name:
            directory = root / check_name(name)
            if not (directory / "conversation.jsonl").exists():
                raise UsageError(f"no conversation named {name!r} in {root}")
        else:
            logs = sorted(root.glob("*/conversation.jsonl"), key=lambda p: p.stat().st_mtime)
            if not logs:
                raise UsageError(f"no conversation to resume in {root}")
            directory = logs[-1].parent
        conversation = cls(directory)
        conversation._load()
        return conversation

    def append(self, message: Message, metadata: dict[str, Any] | None = None) -> None:
        self.messages.append(message)
        line = json.dumps(_to_json(message, metadata or {}), ensure_ascii=False) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def undo(self, turns: int = 1) -> int:
        """Drop the last `turns` user turns (and all that followed them); return how many messages went.

        The file is rewritten atomically (a temp file renamed over it): a crash leaves
        either the old log or the new one, never a mix.
        """
        starts = [i for i, m in enumerate(self.messages) if m.role == "user"]
        if not starts:
            return 0
        cut = starts[-min(turns, len(starts))]
        dropped = len(self.messages) - cut
        lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if _is_message(line)][:cut]
        tmp = self.path.with_name(".conversation.jsonl.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.writelines(kept)
        os.replace(tmp, self.path)
        del self.messages[cut:]
        return dropped

    def rename(self, name: str) -> None:
        target = self.directory.parent / check_name(name)
        if target.exists():
            raise UsageError(f"a conversation named {name!r} exists already")
        self.directory.rename(target)
        self.directory = target

    def _load(self) -> None:
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                self.messages.append(_from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                self.skipped_lines += 1


def _is_message(line: str) -> bool:
    try:
        _from_json(json.loads(line))
    except (ValueError, KeyError, TypeError):
        return False
    return True


def _to_json(message: Message, metadata: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"role": message.role, "content": message.content, "timestamp": _now()}
    if message.tool_calls:
        data["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls]
    if message.call_id is not None:
        data["call_id"], data["name"] = message.call_id, message.name
    if metadata:
        data["metadata"] = metadata
    return data


def _from_json(data: dict[str, Any]) -> Message:
    if data["role"] not in ("system", "user", "assistant", "tool") or not isinstance(data["content"], str):
        raise ValueError("not a message")
    calls = [ToolCall(c["id"], c["name"], dict(c["arguments"])) for c in data.get("tool_calls", [])]
    return Message(data["role"], data["content"], calls, data.get("call_id"), data.get("name"))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
