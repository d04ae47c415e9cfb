"""Images for the vision tests: plain-coloured PNGs, and a loopback HTTP server that serves
them (remote images without the internet)."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"
GEMMA = "@cf/google/gemma-3-12b-it"
MISTRAL = "@cf/mistralai/mistral-small-3.1-24b-instruct"
LLAMA_VISION = "@cf/meta/llama-3.2-11b-vision-instruct"
LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
LLAVA = "@cf/llava-hf/llava-1.5-7b-hf"

RED = (220, 20, 30)
BLUE = (20, 40, 220)
GREEN = (40, 170, 60)


def png(colour: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG")
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{b64(data)}"


@dataclass
class ImageServer:
    """Files served by path (``/red.png``); every requested path is kept in ``hits``. Paths in
    ``unsized`` are sent without a content-length (read until the connection closes)."""

    files: dict[str, tuple[bytes, str]]
    unsized: set[str] = field(default_factory=set)
    base_url: str = ""
    hits: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


@contextmanager
def image_server(
    files: dict[str, tuple[bytes, str]], unsized: set[str] | None = None
) -> Iterator[ImageServer]:
    server_state = ImageServer(files, unsized or set())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_state.hits.append(self.path)
            found = server_state.files.get(self.path)
            if found is None:
                self.send_error(404)
                return
            body, content_type = found
            self.send_response(200)
            self.send_header("content-type", content_type)
            if self.path not in server_state.unsized:
                self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
