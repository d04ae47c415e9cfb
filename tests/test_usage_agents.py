"""Usage totals for whole agent runs, through each framework's own agent: LangChain's
``create_agent`` under ``get_cloudflare_usage_callback()`` and LlamaIndex's ``FunctionAgent``
with ``CloudflareUsageHandler`` in its callback manager. Both count the chat model's turns and
the Workers AI task the agent's tool ran, and agree with a core tracker around the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cloudflare_ai.tasks import DEFAULT_IMAGE_MODEL
from cloudflare_ai.usage import track_usage

CHAT = "@cf/meta/llama-3.1-8b-instruct"
IMAGE = DEFAULT_IMAGE_MODEL


def test_langchain_agent_run_is_counted_whole(connection: dict[str, Any], tmp_path: Path) -> None:
    from langchain.agents import create_agent

    from cloudflare_ai.langchain import (
        ChatWorkersAI,
        WorkersAIToolkit,
        get_cloudflare_usage_callback,
    )

    toolkit = WorkersAIToolkit(output_dir=tmp_path, **connection)
    tools = [t for t in toolkit.get_tools() if t.name == "generate_image"]
    agent = create_agent(ChatWorkersAI(model=CHAT, **connection), tools)
    with track_usage() as core, get_cloudflare_usage_callback() as cb:
        state = agent.invoke(
            {"messages": [{"role": "user", "content": "generate_image: a lighthouse at dusk"}]}
        )
    assert [m.name for m in state["messages"] if m.type == "tool"] == ["generate_image"]
    # at least two chat turns (the tool call, then the answer) and the image
    assert cb.by_model[CHAT].calls >= 2 and cb.by_model[IMAGE].calls == 1
    assert cb.successful_requests == core.total.calls
    assert cb.total_tokens == core.total.total_tokens
    assert cb.neurons == pytest.approx(core.total.neurons) and cb.neurons > 0
    assert cb.total_cost == pytest.approx(core.total.cost_usd) and cb.total_cost > 0


async def test_llama_index_agent_run_is_counted_whole(
    connection: dict[str, Any], tmp_path: Path
) -> None:
    from llama_index.core.agent.workflow import FunctionAgent
    from llama_index.core.callbacks import CallbackManager

    from cloudflare_ai.llama_index import CloudflareUsageHandler, WorkersAI, WorkersAIToolSpec

    handler = CloudflareUsageHandler()
    manager = CallbackManager([handler])
    tools = [
        t
        for t in WorkersAIToolSpec(output_dir=tmp_path, **connection).to_tool_list()
        if t.metadata.name == "generate_image"
    ]
    agent = FunctionAgent(
        tools=tools, llm=WorkersAI(model=CHAT, callback_manager=manager, **connection)
    )
    # The agent's own LLM calls are traced by the callback manager; the tool's Workers AI
    # call runs outside any trace, so the whole run is wrapped in the handler's tracker
    # (which the traces inside it do not count twice).
    with track_usage() as core:
        async with handler.tracker:
            result = await agent.run(user_msg="generate_image: a lighthouse at dusk")
    assert result.tool_calls and result.tool_calls[0].tool_name == "generate_image"
    assert result.tool_calls[0].tool_output.is_error is False  # the image was made
    assert handler.by_model[CHAT].calls >= 2 and handler.by_model[IMAGE].calls == 1
    assert handler.successful_requests == core.total.calls
    assert handler.total_tokens == core.total.total_tokens
    assert handler.neurons == pytest.approx(core.total.neurons) and handler.neurons > 0
    assert handler.total_cost == pytest.approx(core.total.cost_usd)
