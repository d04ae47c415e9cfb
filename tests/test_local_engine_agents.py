"""Agents and structured output against the local engine, through each framework's own entry
points: LangChain ``create_agent`` (with a tool, and with ``response_format``, which LangChain
turns into a forced tool call every turn), ``bind_tools`` and ``with_structured_output``;
LlamaIndex ``FunctionAgent`` and ``structured_predict``. Offline and deterministic: the
emulator decides from the words of the request, not a model."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

CHAT = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
ALICE = "Alice Smith is 31 years old, happy, and likes chess and hiking."


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def translate(text: str, target_lang: Literal["en", "fr", "de", "es"]) -> str:
    """Translate text into another language."""
    return f"[{target_lang}] {text}"


class TranslateArgs(BaseModel):
    """``translate``'s parameters, spelled out for LlamaIndex, which cannot resolve the
    postponed ``Literal`` annotation of the function itself."""

    text: str
    target_lang: Literal["en", "fr", "de", "es"]


class Person(BaseModel):
    """A person described in the text."""

    name: str = Field(description="the person's full name")
    age: int
    mood: Literal["neutral", "happy", "sad"]
    hobbies: list[str]


class Product(BaseModel):
    """The result of a multiplication."""

    result: int = Field(description="the product")
    explanation: str


def expected_person(person: Any) -> None:
    assert isinstance(person, Person)
    assert person == Person(name="Alice Smith", age=31, mood="happy", hobbies=["chess", "hiking"])


# --- LangChain -------------------------------------------------------------------------------


def _chat(connection: dict[str, Any]) -> Any:
    from cloudflare_ai.langchain import ChatWorkersAI

    return ChatWorkersAI(model=CHAT, **connection)


def test_langchain_agent_multiplies_when_asked_in_words(connection: dict[str, Any]) -> None:
    from langchain.agents import create_agent
    from langchain_core.tools import tool

    agent = create_agent(_chat(connection), [tool(multiply)])
    state = agent.invoke({"messages": [{"role": "user", "content": "What is 6 times 7?"}]})
    calls = [c for m in state["messages"] if m.type == "ai" for c in m.tool_calls]
    assert [(c["name"], c["args"]) for c in calls] == [("multiply", {"a": 6, "b": 7})]
    assert [m.content for m in state["messages"] if m.type == "tool"] == ["42"]
    assert state["messages"][-1].type == "ai" and "42" in state["messages"][-1].content


def test_langchain_agent_response_format_gives_a_structured_response(
    connection: dict[str, Any],
) -> None:
    from langchain.agents import create_agent
    from langchain_core.tools import tool

    agent = create_agent(_chat(connection), [tool(multiply)], response_format=Product)
    state = agent.invoke({"messages": [{"role": "user", "content": "What is 6 times 7?"}]})
    names = [c["name"] for m in state["messages"] if m.type == "ai" for c in m.tool_calls]
    assert names == ["multiply", "Product"]  # the real tool first, then the answer tool
    assert isinstance(state["structured_response"], Product)
    assert state["structured_response"].result == 42


def test_langchain_agent_response_format_without_tools(connection: dict[str, Any]) -> None:
    from langchain.agents import create_agent

    agent = create_agent(_chat(connection), [], response_format=Person)
    state = agent.invoke({"messages": [{"role": "user", "content": ALICE}]})
    expected_person(state["structured_response"])


def test_langchain_bind_tools_fills_translate(connection: dict[str, Any]) -> None:
    from langchain_core.tools import tool

    model = _chat(connection).bind_tools([tool(multiply), tool(translate)])
    message = model.invoke("Translate 'good morning' into French")
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        ("translate", {"text": "good morning", "target_lang": "fr"})
    ]
    assert model.invoke("Tell me a joke").tool_calls == []


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_langchain_structured_output(connection: dict[str, Any], method: str) -> None:
    structured = _chat(connection).with_structured_output(Person, method=method)
    expected_person(structured.invoke(ALICE))


def test_langchain_json_mode_follows_format_instructions(connection: dict[str, Any]) -> None:
    from langchain_core.output_parsers import PydanticOutputParser

    instructions = PydanticOutputParser(pydantic_object=Person).get_format_instructions()
    structured = _chat(connection).with_structured_output(Person, method="json_mode")
    expected_person(structured.invoke([("system", instructions), ("user", ALICE)]))
    # Without any description of the shape, JSON mode still answers with an object.
    raw = _chat(connection).bind(response_format={"type": "json_object"}).invoke("What is 2 + 3?")
    assert raw.content == '{"answer":"2 + 3 = 5."}'


# --- LlamaIndex ------------------------------------------------------------------------------


def _llm(connection: dict[str, Any]) -> Any:
    from cloudflare_ai.llama_index import WorkersAI

    return WorkersAI(model=CHAT, **connection)


async def test_llama_index_function_agent_multiplies(connection: dict[str, Any]) -> None:
    from llama_index.core.agent.workflow import FunctionAgent
    from llama_index.core.tools import FunctionTool

    agent = FunctionAgent(tools=[FunctionTool.from_defaults(fn=multiply)], llm=_llm(connection))
    result = await agent.run(user_msg="What is 6 times 7?")
    assert [(c.tool_name, c.tool_kwargs) for c in result.tool_calls] == [
        ("multiply", {"a": 6, "b": 7})
    ]
    assert "42" in str(result)


async def test_llama_index_function_agent_output_cls(connection: dict[str, Any]) -> None:
    """LlamaIndex asks for ``output_cls`` with the whole run rewritten as one XML message; the
    answer takes the tool's result, not the question's first number."""
    from llama_index.core.agent.workflow import FunctionAgent
    from llama_index.core.tools import FunctionTool

    agent = FunctionAgent(
        tools=[FunctionTool.from_defaults(fn=multiply)], llm=_llm(connection), output_cls=Product
    )
    result = await agent.run(user_msg="What is 6 times 7?")
    assert Product.model_validate(result.structured_response).result == 42


@pytest.mark.parametrize(
    ("question", "call", "answer"),
    [
        ("What is 6 times 7?", ("multiply", {"a": 6, "b": 7}), "42"),
        (
            "Translate 'good morning' into French",
            ("translate", {"text": "good morning", "target_lang": "fr"}),
            "[fr] good morning",
        ),
    ],
)
async def test_llama_index_react_agent_picks_and_fills_the_tool(
    connection: dict[str, Any], question: str, call: tuple[str, dict[str, Any]], answer: str
) -> None:
    from llama_index.core.agent.workflow import ReActAgent
    from llama_index.core.tools import FunctionTool

    tools = [  # translate first: a match by position alone would pick it
        FunctionTool.from_defaults(fn=translate, fn_schema=TranslateArgs),
        FunctionTool.from_defaults(fn=multiply),
    ]
    result = await ReActAgent(tools=tools, llm=_llm(connection)).run(user_msg=question)
    assert [(c.tool_name, c.tool_kwargs) for c in result.tool_calls] == [call]
    assert str(result) == answer


def test_llama_index_structured_predict(connection: dict[str, Any]) -> None:
    from llama_index.core.prompts import PromptTemplate

    person = _llm(connection).structured_predict(
        Person, PromptTemplate("Extract the person: {text}"), text=ALICE
    )
    expected_person(person)
