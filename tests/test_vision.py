"""Vision (issue 15, item 4): an image a tool returns (a screenshot, read_file on an image) reaches the
scripted server as an image part for a model that takes images (OpenAI: a user message of image_url
data URLs after the step's tool messages; Anthropic: image blocks in the tool_result) and as text for
one that does not. Images are stored beside the conversation and named in the log, never inlined."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from gptme_trio.chat.agent import Agent, ChatSettings
from gptme_trio.chat.context import ContextKeeper
from gptme_trio.chat.store import Conversation
from gptme_trio.core.errors import ToolError
from gptme_trio.core.images import MAX_IMAGE, Attached, Image
from gptme_trio.llm import Message, Provider
from gptme_trio.llm.anthropic import Anthropic
from gptme_trio.llm.openai import OpenAICompatible
from gptme_trio.tools import tool
from gptme_trio.tools.files import FileTools
from gptme_trio.tools.paths import Workspace
from tests.support.llm_server import LLMServer
from tests.support.ui import RecordingUI

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(40))
DATA_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
SNAP = {"tool_calls": [{"name": "snap", "arguments": {"what": "the page"}}]}
SCRIPT: list[dict[str, Any]] = [SNAP, {"text": "I see it"}]


@pytest.fixture
async def client():
    async with httpx.AsyncClient(timeout=None, trust_env=False) as client:
        yield client


@pytest.fixture
def png(tmp_path) -> Path:
    path = tmp_path / "work" / "shot.png"
    path.parent.mkdir()
    path.write_bytes(PNG)
    return path


def snapper(png: Path):
    async def snap(what: str) -> str:
        """Take a picture.

        Args:
            what: of what
        """
        return Attached(f"took a picture of {what}", (Image(png, "image/png"),))

    return tool(snap)


async def talk(model: Provider, png: Path, tmp_path: Path) -> Conversation:
    conversation = Conversation.create(tmp_path / "home", "v")
    conversation.append(Message("system", "s"))
    snap = snapper(png)
    bot = Agent(model, {"snap": snap}, ChatSettings(confirm_tools=False), context=ContextKeeper())
    assert await bot.turn(conversation, "look", RecordingUI()) == "I see it"
    return conversation


async def test_openai_vision_model_gets_the_image_after_the_tool_messages(nursery, client, png, tmp_path):
    server: LLMServer = await nursery.start(LLMServer(list(SCRIPT)).serve)
    model = OpenAICompatible(client, model="gpt-4o", base_url=f"{server.base_url}/v1", api_key="k")
    conversation = await talk(model, png, tmp_path)
    sent = server.requests[1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "user"]
    assert sent[3]["content"] == "took a picture of the page"
    assert sent[4]["content"][1] == {"type": "image_url", "image_url": {"url": DATA_URL}}
    # stored beside the conversation, named (relative) in the log, not inlined
    [stored] = conversation.messages[3].images
    assert stored.path.parent == conversation.directory / "images" and stored.path.read_bytes() == PNG
    log = conversation.path.read_text()
    assert base64.b64encode(PNG).decode() not in log
    assert json.loads(log.splitlines()[3])["images"] == [
        {"path": f"images/{stored.path.name}", "media_type": "image/png"}
    ]
    conversation.rename("renamed")
    reopened = Conversation.open(tmp_path / "home", "renamed")
    assert reopened.messages[3].images[0].path.read_bytes() == PNG
    assert conversation.messages[3].images[0].path == reopened.messages[3].images[0].path


async def test_a_text_only_model_gets_text_instead_of_the_image(nursery, client, png, tmp_path):
    server: LLMServer = await nursery.start(LLMServer(list(SCRIPT)).serve)
    model = OpenAICompatible(client, model="deepseek-chat", base_url=f"{server.base_url}/v1", api_key="k")
    conversation = await talk(model, png, tmp_path)
    sent = server.requests[1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool"]
    assert "1 image(s) not shown: openai/deepseek-chat does not take images" in sent[3]["content"]
    assert "image_url" not in json.dumps(sent)
    assert conversation.messages[3].images  # still kept: another model may see it


async def test_anthropic_gets_image_blocks_in_the_tool_result(nursery, client, png, tmp_path):
    server: LLMServer = await nursery.start(LLMServer(list(SCRIPT)).serve)
    model = Anthropic(client, model="claude-sonnet-4-5", api_key="k", base_url=server.base_url)
    await talk(model, png, tmp_path)
    [result] = server.requests[1]["body"]["messages"][-1]["content"]
    assert result["type"] == "tool_result" and result["content"][0] == {
        "type": "text",
        "text": "took a picture of the page",
    }
    source = result["content"][1]["source"]
    assert source == {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()}


async def test_read_file_on_an_image_attaches_it_and_refuses_one_too_large(tmp_path):
    (tmp_path / "pic.png").write_bytes(PNG)
    (tmp_path / "huge.png").write_bytes(PNG + b"\0" * MAX_IMAGE)
    files = FileTools(Workspace(tmp_path))
    result = await files.read_file("pic.png")
    assert isinstance(result, Attached) and result.images[0].media_type == "image/png"
    assert result.startswith("pic.png is an image (image/png")
    with pytest.raises(ToolError, match="too large to show"):
        await files.read_file("huge.png")
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4 ...")
    with pytest.raises(ToolError, match="a PDF document"):
        await files.read_file("a.pdf")


async def test_compaction_leaves_the_images_of_earlier_steps_out(nursery, client, png, tmp_path):
    server: LLMServer = await nursery.start(LLMServer([*SCRIPT, SNAP, {"text": "again"}]).serve)
    model = OpenAICompatible(client, model="gpt-4o", base_url=f"{server.base_url}/v1", api_key="k")
    conversation = await talk(model, png, tmp_path)
    keeper = ContextKeeper()
    bot = Agent(model, {"snap": snapper(png)}, ChatSettings(confirm_tools=False), context=keeper)
    assert keeper.estimate(conversation.messages) > 1000  # an image counts as about 1,000 tokens
    assert await bot.turn(conversation, "once more", RecordingUI()) == "again"
    done = await keeper.compact(conversation, model, [], bot.summarise)
    assert done.shortened == 2 and done.summarised == 0  # both pictures were seen: out (a step's own stay)
    for result in (m for m in conversation.messages if m.role == "tool"):
        assert not result.images and result.content.endswith("[1 image(s) left out to save context]")
    assert keeper.estimate(conversation.messages) < 1000
