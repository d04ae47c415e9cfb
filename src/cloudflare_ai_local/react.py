"""The local engine's side of ReAct prompting (LlamaIndex ``ReActAgent`` and the like).

A ReAct prompt lists tools as ``> Tool Name: … / Tool Description: … / Tool Args: {…}`` and
asks for ``Thought / Action / Action Input`` lines, then, after an ``Observation:``, for
``Thought / Answer``. A real model decides; this local stand-in picks the tool the question
points at the same way tool calling does (name and operation synonyms, description, whether
the question can fill its parameters; see ``structured._match_score``), fills its arguments
from the question, and answers with the last observation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from . import structured, textgen

_TOOL = re.compile(
    r"> Tool Name: (?P<name>[^\n]+)\n"
    r"Tool Description: (?P<desc>.*?)\n"
    r"Tool Args: (?P<args>\{[^\n]*\})",
    re.DOTALL,
)


def _texts(messages: Sequence[Any]) -> list[tuple[str, str]]:
    return [
        (str(m.get("role", "")), textgen.message_text(m.get("content")))
        for m in messages
        if isinstance(m, Mapping)
    ]


def is_react(body: Mapping[str, Any]) -> bool:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return False
    system = " ".join(text for role, text in _texts(messages) if role == "system")
    return "Action Input:" in system and "Observation:" in system


def _tools(system: str) -> list[structured.ToolSpec]:
    tools = []
    for match in _TOOL.finditer(system):
        try:
            params = orjson.loads(match.group("args"))
        except orjson.JSONDecodeError:
            params = {"type": "object", "properties": {}}
        tools.append(structured.ToolSpec(match.group("name").strip(), match.group("desc"), params))
    return tools


def reply(body: Mapping[str, Any]) -> str:
    """The next ReAct step: an action, or an answer after an observation."""
    texts = _texts(body.get("messages") or [])
    system = "\n".join(text for role, text in texts if role == "system")
    last = texts[-1][1]
    if last.lstrip().startswith("Observation:"):
        observation = last.split("Observation:", 1)[1].strip()
        return (
            "Thought: I can answer without using any more tools. I'll use the user's language "
            f"to answer\nAnswer: {observation}"
        )
    question = next(
        (t for r, t in reversed(texts) if r == "user" and not t.startswith("Observation:")), ""
    )
    tools = _tools(system)
    if not tools:
        conv = textgen.Conversation(question, "", question, "user")
        return (
            f"Thought: I can answer without using any more tools.\nAnswer: {textgen.answer(conv)}"
        )
    scored = sorted(
        ((structured._match_score(t, question), i) for i, t in enumerate(tools)),
        key=lambda s: (-s[0], s[1]),
    )
    tool = tools[scored[0][1]]
    arguments = structured.tool_arguments(tool, question)
    return (
        "Thought: The current language of the user is: English. I need to use a tool to help "
        f"me answer the question.\nAction: {tool.name}\nAction Input: "
        f"{orjson.dumps(arguments).decode()}"
    )
