"""Conversations as append-only JSONL files under the user data directory.

    <home>/conversations/<name>/conversation.jsonl    one JSON message per line
    <home>/conversations/<name>/meta.json             {"model": "PROVIDER/MODEL", "created": ...}

`home` is $GPTME_TRIO_HOME, else the platform's user data directory. Each
message is written with one `write` on an O_APPEND descriptor and flushed, so a
process killed mid-turn leaves whole lines; a torn last line is skipped on load
(and reported), never fatal. Files are created mode 0600.

A new conversation is written with its first message that is not the system prompt:
until then it lives in memory only (a launch where nothing is said leaves nothing to
resume). meta.json holds the model the conversation talks to (resume uses it); a log
written before it existed still loads, its model read from its last reply's metadata.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from gptme_trio.core.errors import UsageError
from gptme_trio.core.images import Image
from gptme_trio.llm import Message, Role, ToolCall

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
LOG, META = "conversation.jsonl", "meta.json"
_ROLES = frozenset(get_args(Role))


def home_dir(env: Mapping[str, str] = os.environ) -> Path:
    if env.get("GPTME_TRIO_HOME"):
        return Path(env["GPTME_TRIO_HOME"]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("gptme-trio"))


def check_name(name: str, asked_by: str = "--name") -> str:
    """`name` if it can name a conversation's directory; else UsageError naming what asked for it."""
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"{asked_by} {name!r}: use letters, digits, '.', '_' or '-', starting with a letter or digit (at most 100)"
        )
    return name


def exists(home: Path, name: str) -> bool:
    """Whether a conversation called `name` has a log (a directory holding only screenshots does not count)."""
    return (home / "conversations" / name / LOG).exists()


@dataclass
class Conversation:
    directory: Path
    messages: list[Message] = field(default_factory=list)
    skipped_lines: int = 0  # torn or garbage lines found on load
    usage: list[tuple[str, int, int]] = field(default_factory=list)  # (model, input, output) of loaded replies
    model: str | None = None  # PROVIDER/MODEL it talks to (meta.json); set_model changes it
    written: bool = True  # False until the first message that is not the system prompt
    _held: list[bytes] = field(default_factory=list, repr=False)  # lines written with that message

    @property
    def name(self) -> str:
        return self.directory.name

    @property
    def path(self) -> Path:
        return self.directory / LOG

    @classmethod
    def create(cls, home: Path, name: str | None = None, model: str | None = None) -> Conversation:
        """A new conversation, on disk at once (an empty log): `new` waits for something to be said."""
        conversation = cls.new(home, name, model)
        conversation._write_held()
        return conversation

    @classmethod
    def new(cls, home: Path, name: str | None = None, model: str | None = None) -> Conversation:
        """A new conversation, in memory until its first message that is not the system prompt.

        Its name is `name`, else the time; `-2`, `-3`... when a conversation has it already."""
        root = home / "conversations"
        name = check_name(name) if name else time.strftime("%Y%m%d-%H%M%S")
        directory, n = root / name, 1
        while (directory / LOG).exists():
            n += 1
            directory = root / f"{name}-{n}"
        return cls(directory, model=model, written=False)

    @classmethod
    def open(cls, home: Path, name: str | None = None) -> Conversation:
        """Load `name`, or the most recently written conversation where something was said."""
        root = home / "conversations"
        if name:
            directory = root / check_name(name)
            if not (directory / LOG).exists():
                raise UsageError(f"no conversation named {name!r} in {root}")
        else:
            logs = sorted(root.glob(f"*/{LOG}"), key=_mtime, reverse=True)
            said = next((log for log in logs if any(_said(line) for line in _lines(log))), None)
            if said is None:
                raise UsageError(f"no conversation to resume in {root}")
            directory = said.parent
        conversation = cls(directory)
        conversation._load()
        return conversation

    def append(self, message: Message, metadata: dict[str, Any] | None = None) -> None:
        self.messages.append(message)
        line = _encode(_to_json(message, metadata or {}, self.directory))
        if not self.written:
            self._held.append(line)
            if message.role != "system":
                self._write_held()
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def set_model(self, model: str | None) -> None:
        """The model this conversation talks to from now on (kept in meta.json: resume uses it)."""
        if model != self.model:
            self.model = model
            if self.written:
                self._write_meta()

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
        kept = [line + "\n" for line in _lines(self.path) if _is_message(line)][:cut]
        tmp = self.path.with_name(".conversation.jsonl.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.writelines(kept)
        os.replace(tmp, self.path)
        del self.messages[cut:]
        return dropped

    def rewrite(self, messages: list[Message], metadata: dict[str, Any]) -> Path:
        """Replace the conversation with `messages` (a compaction), `metadata` on the first changed one.

        The log as it was stays beside it, whole (`conversation.before-compact-N.jsonl`); the new
        log is written to a temp file and renamed over the old: a crash leaves one or the other."""
        n = 1
        while (backup := self.directory / f"conversation.before-compact-{n}.jsonl").exists():
            n += 1
        try:
            os.link(self.path, backup)  # the old inode keeps the old log; the rename below leaves it alone
        except OSError:  # a file system without hard links
            shutil.copyfile(self.path, backup)
        first = next((i for i, (a, b) in enumerate(zip(self.messages, messages, strict=False)) if a != b), 0)
        lines = [_encode(_to_json(m, metadata if i == first else {}, self.directory)) for i, m in enumerate(messages)]
        tmp = self.path.with_name(".conversation.jsonl.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.writelines(lines)
        os.replace(tmp, self.path)
        self.messages[:] = messages
        return backup

    def keep_image(self, image: Image) -> Image:
        """`image` as one stored beside the conversation (`images/`): a copy unless it is there already."""
        if image.path.is_relative_to(self.directory):
            return image
        folder = self.directory / "images"
        folder.mkdir(mode=0o700, exist_ok=True)
        n = len(list(folder.iterdir())) + 1
        target = folder / f"{n:04d}-{image.path.name}"
        try:
            shutil.copyfile(image.path, target)
        except OSError:
            return image  # the request says it is gone, if it is
        return Image(target, image.media_type)

    def rename(self, name: str, asked_by: str = "--name") -> None:
        target = self.directory.parent / check_name(name, asked_by)
        if target.exists():
            raise UsageError(f"a conversation named {name!r} exists already")
        if not self.written:  # nothing on disk yet (but maybe a screenshot): it is written under the new name
            if self.directory.exists():
                self.directory.rename(target)
            self.directory = target
            return
        self.directory.rename(target)
        old, self.directory = self.directory, target
        for message in self.messages:  # images stored beside the conversation moved with it
            message.images = [
                Image(target / i.path.relative_to(old), i.media_type) if i.path.is_relative_to(old) else i
                for i in message.images
            ]

    def _load(self) -> None:
        replied_by = None  # a log from before meta.json: the model of its last reply
        for line in _lines(self.path):
            data, message = _parse_data(line, self.directory)  # each line decoded once (--list reads them all)
            if message is None:
                self.skipped_lines += 1
            else:
                self.messages.append(message)
                if message.role == "assistant":
                    self.usage += _usage(data)
                    replied_by = _model(data) or replied_by
        self.model = _read_model(self.directory / META) or replied_by

    def _write_held(self) -> None:
        """Create the directory and the log with the lines held so far. Another process may have taken
        the name meanwhile (its log exists: O_EXCL says so): then the next free `-N` name is used."""
        root, name, n = self.directory.parent, self.directory.name, 1
        root.mkdir(parents=True, exist_ok=True, mode=0o700)  # the names say what was asked, too
        while True:
            self.directory.mkdir(mode=0o700, exist_ok=True)  # a screenshot taken before may have made it
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
                break
            except FileExistsError:
                n += 1
                self.directory = root / f"{name}-{n}"
        try:
            os.write(fd, b"".join(self._held))
        finally:
            os.close(fd)
        self.written, self._held = True, []
        self._write_meta()

    def _write_meta(self) -> None:
        """meta.json, replaced whole (a temp file renamed over it)."""
        meta = _read_meta(self.directory / META) or {"created": _now()}
        meta["model"] = self.model
        tmp = self.directory / ".meta.json.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(_encode(meta))
        os.replace(tmp, self.directory / META)


def _read_meta(path: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    return meta if isinstance(meta, dict) else None


def _read_model(path: Path) -> str | None:
    model = (_read_meta(path) or {}).get("model")
    return model if isinstance(model, str) and model else None


def _model(data: dict[str, Any]) -> str | None:
    meta = data.get("metadata")
    model = meta.get("model") if isinstance(meta, dict) else None
    return model if isinstance(model, str) and model else None


def _said(line: str) -> bool:
    """Whether the line is a message other than the system prompt."""
    message = _parse(line, Path())
    return message is not None and message.role != "system"


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed meanwhile
        return 0.0


def _encode(data: dict[str, Any]) -> bytes:
    try:
        return (json.dumps(data, ensure_ascii=False) + "\n").encode()
    except UnicodeEncodeError:  # a lone surrogate (JavaScript strings may hold them): escape it
        return (json.dumps(data) + "\n").encode()


def _lines(path: Path) -> list[str]:
    """The file's lines, split at "\n" only: a message may hold U+2028, U+0085... (splitlines() cuts there)."""
    lines = path.read_bytes().decode("utf-8", errors="replace").split("\n")  # no newline translation either
    return lines[:-1] if lines[-1] == "" else lines


def _usage(data: dict[str, Any]) -> list[tuple[str, int, int]]:
    """The model and tokens an assistant line's metadata records (none when it does not say)."""
    meta = data.get("metadata") or {}
    usage = meta.get("usage") if isinstance(meta, dict) else None
    if not isinstance(usage, dict) or not isinstance(meta.get("model"), str):
        return []
    tokens = [usage.get("input_tokens"), usage.get("output_tokens")]
    return [(meta["model"], *(t if isinstance(t, int) and not isinstance(t, bool) else 0 for t in tokens))]


def _is_message(line: str) -> bool:
    return _parse(line, Path()) is not None


def _parse(line: str, base: Path) -> Message | None:
    """The message on one line, or None for a torn or garbage line (any JSON at all, any depth)."""
    return _parse_data(line, base)[1]


def _parse_data(line: str, base: Path) -> tuple[dict[str, Any], Message | None]:
    """The line's JSON object and its message; ({}, None) for a torn or garbage line."""
    try:
        data = json.loads(line)
        return data, _from_json(data, base)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return {}, None


def _to_json(message: Message, metadata: dict[str, Any], base: Path) -> dict[str, Any]:
    data: dict[str, Any] = {"role": message.role, "content": message.content, "timestamp": _now()}
    if message.tool_calls:
        data["tool_calls"] = [_call_json(c) for c in message.tool_calls]
    if message.call_id is not None:
        data["call_id"], data["name"] = message.call_id, message.name
    if message.images:  # their paths, relative to the conversation's directory (which /rename moves)
        data["images"] = [{"path": _relative(i.path, base), "media_type": i.media_type} for i in message.images]
    if metadata:
        data["metadata"] = metadata
    return data


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _from_json(data: dict[str, Any], base: Path) -> Message:
    """A message with every field of the type the providers rely on, else ValueError."""
    role, content, call_id, name = data["role"], data["content"], data.get("call_id"), data.get("name")
    if role not in _ROLES or not isinstance(content, str):
        raise ValueError("not a message")
    if not (call_id is None or isinstance(call_id, str)) or not (name is None or isinstance(name, str)):
        raise ValueError("call_id and name are strings")
    if role == "tool" and call_id is None:
        raise ValueError("a tool result names the call it answers")
    calls = data.get("tool_calls", [])
    if not isinstance(calls, list) or not all(_is_call(c) for c in calls):
        raise ValueError("malformed tool_calls")
    calls = [ToolCall(c["id"], c["name"], c["arguments"], c.get("extra")) for c in calls]
    images = [Image(base / i["path"], i["media_type"]) for i in data.get("images", [])]
    if not all(isinstance(i.media_type, str) for i in images):
        raise ValueError("malformed images")
    return Message(role, content, calls, call_id, name, images)


def _call_json(call: ToolCall) -> dict[str, Any]:
    data = {"id": call.id, "name": call.name, "arguments": call.arguments}
    return {**data, "extra": call.extra} if call.extra else data


def _is_call(call: Any) -> bool:
    return (
        isinstance(call, dict)
        and isinstance(call.get("id"), str)
        and isinstance(call.get("name"), str)
        and isinstance(call.get("arguments"), dict)
        and isinstance(call.get("extra") or {}, dict)
    )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
