"""Local stand-in for text-to-image models: a procedural painter, not a diffusion model.

The prompt, ``negative_prompt``, ``seed``, ``guidance`` and the model name are hashed
(blake2b) into a layout: a gradient between two colours at some angle, and a few soft discs.
Colour words in the prompt ("red", "ocean", "sunset", ... see ``COLOUR_WORDS``) choose the
colours, so "a red apple" paints a mostly red picture that the local image classifier calls
red; other prompts get colours from the hash. ``num_steps``/``steps`` set the grain: fewer
steps leave more noise. A missing ``seed`` counts as 0 (Cloudflare picks a random one), so
the same request always gives the same picture. The painting is made at most 128 pixels a
side and resized to ``width`` x ``height`` (else the schema's default, else the input image's
size for img2img, else 1024; UNCERTAIN: Cloudflare's defaults where the schema has none).
A width or height below 1 (lucid-origin's schema allows 0) means the default.

img2img: with ``image`` (0-255 array) or ``image_b64``, the answer is
``strength * painting + (1 - strength) * input`` (``strength`` defaults to 1, as in the
schema: the input is then ignored, as with diffusion at full strength). With ``mask`` as well
(an image; white = repaint) only the masked part changes: inpainting. FLUX.2's multipart
``input_image_0``..``input_image_3`` are blended in at strength 0.5 (UNCERTAIN).

Safety filter: Cloudflare answers an all-black image when its safety filter trips. Here a
prompt containing the word ``nsfw`` (any case, as a whole word) gets an all-black image of
the requested size and format, so clients can test their check.

Format: the output schema's contentType (PNG for SDXL and dreamshaper, JPEG for phoenix);
JSON answers (``{"image": base64}``) carry JPEG (see ``engine_io.JSON_MEDIA_TYPES``).
Input images must be images Pillow can read, else 5006.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from .engine_io import TaskAnswer, TaskCall
from .errors import bad_input
from .inputs import read_bytes

ENGINE_NAME = "procedural-painter/1.0"
BLACK_IMAGE_WORD = "nsfw"
DEFAULT_SIDE = 1024
MAX_SIDE = 4096
MAX_INPUT_PIXELS = 40_000_000
_DRAFT_SIDE = 128
_BLACK = re.compile(rf"\b{BLACK_IMAGE_WORD}\b", re.IGNORECASE)

COLOUR_WORDS: dict[str, tuple[int, int, int]] = {
    "red": (200, 30, 35),
    "apple": (190, 25, 30),
    "fire": (230, 70, 20),
    "orange": (240, 140, 20),
    "sunset": (245, 120, 50),
    "yellow": (240, 215, 40),
    "gold": (215, 175, 50),
    "sun": (250, 200, 60),
    "green": (40, 160, 60),
    "forest": (30, 110, 45),
    "grass": (80, 170, 50),
    "blue": (35, 80, 200),
    "sky": (110, 170, 235),
    "ocean": (20, 90, 160),
    "sea": (25, 100, 170),
    "purple": (120, 50, 170),
    "violet": (140, 80, 200),
    "pink": (240, 120, 180),
    "white": (245, 245, 245),
    "snow": (235, 240, 250),
    "black": (15, 15, 15),
    "night": (20, 25, 60),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "brown": (120, 75, 40),
}

FloatImage = npt.NDArray[np.float64]


def open_image(data: bytes, where: str) -> Image.Image:
    """Decode ``data`` with Pillow (5006 when it is not an image, or absurdly large)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > MAX_INPUT_PIXELS:
                raise bad_input(f"Error: the image at '{where}' is too large")
            img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise bad_input(f"Error: the image at '{where}' is too large") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Warning) as exc:
        raise bad_input(f"Error: the data at '{where}' is not an image that decodes") from exc
    return img


def encode(img: Image.Image, media_type: str) -> bytes:
    buf = io.BytesIO()
    if media_type == "image/jpeg":
        img.convert("RGB").save(buf, "JPEG", quality=90)
    elif media_type == "image/webp":
        img.save(buf, "WEBP")
    else:
        img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _digest(*parts: Any) -> bytes:
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).digest()


def _palette(prompt: str, rng: np.random.Generator) -> list[FloatImage]:
    words = re.findall(r"[a-z]+", prompt.lower())
    named = [np.array(COLOUR_WORDS[w], dtype=float) for w in words if w in COLOUR_WORDS]
    if not named:
        named = [rng.uniform(30, 225, 3) for _ in range(2)]
    if len(named) == 1:
        named.append(np.clip(named[0] * 0.75 + 20, 0, 255))
    return named


def paint(call: TaskCall, prompt: str, width: int, height: int) -> Image.Image:
    """The procedural painting for a request."""
    body = call.body
    steps = body.get("num_steps", body.get("steps"))
    steps = int(steps) if isinstance(steps, int | float) else 20
    key = (call.model, prompt, body.get("negative_prompt"), body.get("seed", 0))
    rng = np.random.default_rng(int.from_bytes(_digest(*key, body.get("guidance")), "little"))
    scale = _DRAFT_SIDE / max(width, height)
    w, h = max(2, round(width * scale)), max(2, round(height * scale))
    yy, xx = np.mgrid[0:h, 0:w]
    xs, ys = xx / (w - 1), yy / (h - 1)
    colours = _palette(prompt, rng)
    angle = rng.uniform(0, 2 * math.pi)
    t = (xs * math.cos(angle) + ys * math.sin(angle) + 1.5) / 3.0
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-9)
    img = colours[0] * (1 - t[..., None] * 0.35) + colours[1] * (t[..., None] * 0.35)
    for i in range(int(rng.integers(2, 6))):
        cx, cy, r = rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.85), rng.uniform(0.08, 0.22)
        colour = colours[i % len(colours)] * rng.uniform(0.7, 1.15)
        m = np.exp(-(((xs - cx) / r) ** 2 + ((ys - cy) / r) ** 2))[..., None] * 0.8
        img = img * (1 - m) + colour * m
    img = img + rng.normal(0.0, 48.0 / (1 + max(steps, 0)), img.shape)
    draft = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    return draft.resize((width, height), Image.Resampling.BICUBIC)


def _side(call: TaskCall, name: str, fallback: int) -> int:
    value = call.body.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 1:
        side = int(value)
    else:
        default = call.input_property(name).get("default")
        side = int(default) if isinstance(default, int | float) and default >= 1 else fallback
    if side > MAX_SIDE:
        raise bad_input(f"Error: {name} must be at most {MAX_SIDE}")
    return side


def _input_images(call: TaskCall) -> tuple[Image.Image | None, Image.Image | None, float]:
    """(init image, mask, strength) of an img2img or inpainting request."""
    body = call.body
    strength = body.get("strength", 1.0)
    strength = float(strength) if isinstance(strength, int | float) else 1.0
    init = None
    for name in ("image", "image_b64"):
        if body.get(name) is not None:
            init = open_image(read_bytes(body[name], "/" + name), "/" + name)
            break
    else:
        refs = [k for k in sorted(body) if re.fullmatch(r"input_image_\d", k)]
        if refs:
            init = open_image(read_bytes(body[refs[0]], "/" + refs[0]), "/" + refs[0])
            strength = 0.5
    mask = None
    if body.get("mask") is not None:
        if init is None:
            raise bad_input("Error: 'mask' needs an input 'image' to repaint")
        mask = open_image(read_bytes(body["mask"], "/mask"), "/mask")
    return init, mask, min(max(strength, 0.0), 1.0)


def text_to_image(call: TaskCall) -> TaskAnswer:
    prompt = call.text("prompt")
    init, mask, strength = _input_images(call)
    fallback_w = init.width if init is not None else DEFAULT_SIDE
    fallback_h = init.height if init is not None else DEFAULT_SIDE
    width, height = _side(call, "width", fallback_w), _side(call, "height", fallback_h)
    media_type = call.media_type("image")
    if _BLACK.search(prompt):
        black = Image.new("RGB", (width, height))
        return TaskAnswer(ENGINE_NAME, media=encode(black, media_type), media_type=media_type)
    img = paint(call, prompt, width, height)
    if init is not None:
        pixels = np.asarray(img, dtype=float)
        base = np.asarray(init.convert("RGB").resize((width, height)), dtype=float)
        blended = strength * pixels + (1 - strength) * base
        if mask is not None:
            m = np.asarray(mask.convert("L").resize((width, height)), dtype=float)[..., None]
            blended = base + (blended - base) * (m / 255.0)
        img = Image.fromarray(np.clip(np.rint(blended), 0, 255).astype(np.uint8), "RGB")
    return TaskAnswer(ENGINE_NAME, media=encode(img, media_type), media_type=media_type)
