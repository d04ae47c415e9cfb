"""The Workers AI task adapters, used through each framework's own entry points on the
emulator (over loopback): LangChain's ``ContextualCompressionRetriever``, ``create_agent`` and
``GenericLoader``; LlamaIndex's query engine with a node postprocessor, ``FunctionAgent`` with
the tool spec, and ``SimpleDirectoryReader`` with the audio reader.

Audio fixtures come from the emulator's own text to speech, whose clips carry their text (the
local speech recogniser reads it back), so a transcript can be checked word for word.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cloudflare_ai import WorkersAIClient

PASSAGES = [
    "Bananas are yellow fruit rich in potassium.",
    "Vectorize metadata indexes must exist before vectors are written.",
    "The Eiffel tower is in Paris.",
    "Metadata filters in Vectorize only see indexed properties.",
]
QUESTION = "When must Vectorize metadata indexes exist?"


@pytest.fixture
def spoken(connection: dict[str, Any], tmp_path: Path) -> Path:
    """A folder with two short speech clips made by text to speech."""
    folder = tmp_path / "audio"
    folder.mkdir()
    with WorkersAIClient(**{k: v for k, v in connection.items() if k != "retry_policy"}) as ai:
        for name, text in (("one", "hello from the first clip"), ("two", "a second clip")):
            (folder / f"{name}.mp3").write_bytes(ai.speak(text).data)
    return folder


# --- LangChain ---------------------------------------------------------------------------------


def test_langchain_reranker_reorders_a_compression_retriever(connection: dict[str, Any]) -> None:
    from langchain_classic.retrievers import ContextualCompressionRetriever
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever

    from cloudflare_ai.langchain import WorkersAIReranker

    class Everything(BaseRetriever):
        def _get_relevant_documents(self, query: str, **_: Any) -> list[Document]:
            return [Document(page_content=p, metadata={"n": i}) for i, p in enumerate(PASSAGES)]

    retriever = ContextualCompressionRetriever(
        base_compressor=WorkersAIReranker(top_n=2, **connection), base_retriever=Everything()
    )
    found = retriever.invoke(QUESTION)
    assert [d.metadata["n"] for d in found] == [1, 3]  # the two Vectorize passages, best first
    assert found[0].metadata["relevance_score"] >= found[1].metadata["relevance_score"]


async def test_langchain_reranker_async(connection: dict[str, Any]) -> None:
    from langchain_core.documents import Document

    from cloudflare_ai.langchain import WorkersAIReranker

    reranker = WorkersAIReranker(top_n=1, **connection)
    docs = [Document(page_content=p) for p in PASSAGES]
    found = await reranker.acompress_documents(docs, QUESTION)
    assert [d.page_content for d in found] == [PASSAGES[1]]
    assert await reranker.acompress_documents([], QUESTION) == []


def test_langchain_audio_parser_with_generic_loader(
    connection: dict[str, Any], spoken: Path
) -> None:
    from langchain_community.document_loaders.generic import GenericLoader

    from cloudflare_ai.langchain import WorkersAIAudioParser

    parser = WorkersAIAudioParser(word_timings=True, **connection)
    loader = GenericLoader.from_filesystem(str(spoken), glob="*.mp3", parser=parser)
    documents = sorted(loader.load(), key=lambda d: d.metadata["source"])
    assert [d.page_content for d in documents] == ["hello from the first clip", "a second clip"]
    assert documents[0].metadata["source"].endswith("one.mp3")
    words = documents[0].metadata["words"]
    assert [w[0] for w in words] == ["hello", "from", "the", "first", "clip"]
    assert all(w[1] <= w[2] for w in words)


def test_langchain_tools_have_schemas_and_run(connection: dict[str, Any], tmp_path: Path) -> None:
    from langchain_core.messages import ToolMessage
    from langchain_core.utils.function_calling import convert_to_openai_tool

    from cloudflare_ai.langchain import WorkersAIToolkit

    tools = {t.name: t for t in WorkersAIToolkit(output_dir=tmp_path, **connection).get_tools()}
    assert set(tools) == {
        "generate_image", "translate", "summarize", "transcribe_audio", "classify_image",
    }  # fmt: skip
    schema = convert_to_openai_tool(tools["translate"])["function"]["parameters"]
    assert set(schema["required"]) == {"text", "target_lang"}

    call = {"name": "generate_image", "args": {"prompt": "a red square"}, "id": "c1",
            "type": "tool_call"}  # fmt: skip
    message = tools["generate_image"].invoke(call)
    assert isinstance(message, ToolMessage)
    assert "Saved a" in message.content
    saved = Path(str(message.content).rsplit(" ", 1)[-1])
    assert saved.exists() and saved.parent == tmp_path
    assert message.artifact.content_type.startswith("image/")

    blank = tools["generate_image"].invoke({"prompt": "nsfw test"})
    assert "safety filter" in blank
    assert tools["translate"].invoke({"text": "hello", "target_lang": "fr"})
    labels = tools["classify_image"].invoke({"path": str(saved)})
    assert "(" in labels and ")" in labels


def test_langchain_agent_calls_a_task_tool(connection: dict[str, Any], tmp_path: Path) -> None:
    from langchain.agents import create_agent

    from cloudflare_ai.langchain import ChatWorkersAI, WorkersAIToolkit

    tools = WorkersAIToolkit(output_dir=tmp_path, **connection).get_tools()
    agent = create_agent(ChatWorkersAI(**connection), tools)
    state = agent.invoke(
        {"messages": [{"role": "user", "content": "generate_image: a lighthouse at dusk"}]}
    )
    names = [m.name for m in state["messages"] if m.type == "tool"]
    assert "generate_image" in names
    assert list(tmp_path.iterdir())  # the image was written


# --- LlamaIndex --------------------------------------------------------------------------------


def test_llama_index_rerank_in_a_query_engine(connection: dict[str, Any]) -> None:
    from llama_index.core import Document, VectorStoreIndex

    from cloudflare_ai.llama_index import WorkersAI, WorkersAIEmbedding, WorkersAIRerank

    index = VectorStoreIndex.from_documents(
        [Document(text=p) for p in PASSAGES], embed_model=WorkersAIEmbedding(**connection)
    )
    engine = index.as_query_engine(
        llm=WorkersAI(**connection),
        similarity_top_k=4,
        node_postprocessors=[WorkersAIRerank(top_n=2, **connection)],
    )
    response = engine.query(QUESTION)
    texts = [n.node.get_content() for n in response.source_nodes]
    assert texts == [PASSAGES[1], PASSAGES[3]]


async def test_llama_index_rerank_async(connection: dict[str, Any]) -> None:
    from llama_index.core.schema import NodeWithScore, TextNode

    from cloudflare_ai.llama_index import WorkersAIRerank

    nodes = [NodeWithScore(node=TextNode(text=p), score=0.0) for p in PASSAGES]
    ranked = await WorkersAIRerank(top_n=1, **connection).apostprocess_nodes(
        nodes, query_str=QUESTION
    )
    assert [n.node.get_content() for n in ranked] == [PASSAGES[1]]


def test_llama_index_audio_reader_in_simple_directory_reader(
    connection: dict[str, Any], spoken: Path
) -> None:
    from llama_index.core import SimpleDirectoryReader

    from cloudflare_ai.llama_index import WorkersAIAudioReader

    reader = SimpleDirectoryReader(
        str(spoken), file_extractor={".mp3": WorkersAIAudioReader(**connection)}
    )
    documents = sorted(reader.load_data(), key=lambda d: d.metadata["file_path"])
    assert [d.text for d in documents] == ["hello from the first clip", "a second clip"]
    assert documents[0].metadata["word_count"] == 5
    assert documents[0].metadata["file_path"].endswith("one.mp3")


async def test_llama_index_tool_spec_with_function_agent(
    connection: dict[str, Any], tmp_path: Path
) -> None:
    from llama_index.core.agent.workflow import FunctionAgent

    from cloudflare_ai.llama_index import WorkersAI, WorkersAIToolSpec

    spec = WorkersAIToolSpec(output_dir=tmp_path, **connection)
    tools = spec.to_tool_list()
    assert {t.metadata.name for t in tools} == {
        "generate_image", "translate", "summarize", "transcribe_audio", "classify_image",
    }  # fmt: skip
    assert tools[1].call(text="hello", target_lang="fr").content
    agent = FunctionAgent(tools=tools, llm=WorkersAI(**connection))
    await agent.run("generate_image: a lighthouse at dusk")
    saved = sorted(tmp_path.glob("*"))  # noqa: ASYNC240 - a test's tmp folder
    assert saved  # the agent called the image tool, which saved a file
