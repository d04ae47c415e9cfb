"""Local stand-ins for the image-understanding tasks, from colour statistics, not a network.

The image (any form the schema takes: 0-255 array, base64 or the raw body) must be one Pillow
can decode, else 5006. It is reduced to at most 64 pixels a side and each pixel named by
colour (``colour_name``: black/white/gray by value and saturation, else by hue: red, orange,
yellow, green, cyan, blue, purple, pink).

* Image classification (resnet-50): five ImageNet labels, upper case (UNCERTAIN: case), from
  ``LABELS`` of the two most common colours (three from the first, two from the second);
  scores are the colour's share times a fixed decay, best first.
* Object detection (detr-resnet-50): pixels differing from the border's median colour are
  grouped into 4-connected regions; each region of at least 1% of the image is a box in the
  input's pixel coordinates (``xmin``/``ymin``/``xmax``/``ymax``; UNCERTAIN: pixels rather
  than fractions), labelled with a COCO class from its shape (tall: person, wide: car) or its
  colour (``COCO_BY_COLOUR``), scored by its contrast with the background. A plain image has
  no objects.
* Image to text (llava, uform): "A 640x480 landscape image, mostly red, with white and blue.
  There is a red shape near the center." (the boxes above), cut to ``max_tokens`` words.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from .engine_io import TaskAnswer, TaskCall
from .errors import bad_input
from .images import open_image
from .inputs import read_bytes

ENGINE_NAME = "colour-statistics-vision/1.0"
_SIDE = 64

LABELS: dict[str, list[str]] = {
    "red": ["STRAWBERRY", "FIRE ENGINE", "POMEGRANATE", "LADYBUG", "RED WINE"],
    "orange": ["ORANGE", "GOLDFISH", "MONARCH", "JACK-O'-LANTERN", "BUTTERNUT SQUASH"],
    "yellow": ["LEMON", "BANANA", "SCHOOL BUS", "GOLDFINCH", "CORN"],
    "green": ["GRANNY SMITH", "BROCCOLI", "CUCUMBER", "GREEN MAMBA", "LACEWING"],
    "cyan": ["SEASHORE", "LAKESIDE", "CORAL REEF", "SNORKEL", "SWIMMING TRUNKS"],
    "blue": ["JEAN", "BREAKWATER", "SEASHORE", "SPACE SHUTTLE", "PROMONTORY"],
    "purple": ["VELVET", "JELLYFISH", "CARDOON", "WOOL", "BUBBLE"],
    "pink": ["BUBBLE", "PIG", "HIP", "SUNSCREEN", "BRASSIERE"],
    "white": ["ENVELOPE", "PAPER TOWEL", "WEB SITE", "MENU", "CROSSWORD PUZZLE"],
    "gray": ["STONE WALL", "MONITOR", "SCREEN", "TELEVISION", "SLIDING DOOR"],
    "black": ["SPOTLIGHT", "THEATER CURTAIN", "SCOREBOARD", "PLANETARIUM", "ODOMETER"],
}
COCO_BY_COLOUR = {
    "red": "stop sign",
    "orange": "orange",
    "yellow": "banana",
    "green": "potted plant",
    "cyan": "frisbee",
    "blue": "umbrella",
    "purple": "vase",
    "pink": "donut",
    "white": "cup",
    "gray": "laptop",
    "black": "tv",
}
_DECAY = (0.62, 0.2, 0.09, 0.05, 0.02)
_HUES = [
    (15, "red"),
    (40, "orange"),
    (70, "yellow"),
    (165, "green"),
    (195, "cyan"),
    (255, "blue"),
    (290, "purple"),
    (345, "pink"),
    (361, "red"),
]

RGB = npt.NDArray[np.uint8]


def colour_name(h: float, s: float, v: float) -> str:
    """Name of an HSV colour (Pillow's 0-255 scales)."""
    if v < 50:
        return "black"
    if s < 45:
        return "white" if v > 200 else "gray"
    degrees = h * 360 / 256
    return next(name for limit, name in _HUES if degrees < limit)


def _load(call: TaskCall) -> Image.Image:
    value = call.body.get("image")
    if value is None:
        raise bad_input("Error: required properties at '/' are 'image'")
    return open_image(read_bytes(value, "/image"), "/image")


def _names(small: Image.Image) -> npt.NDArray[Any]:
    hsv = np.asarray(small.convert("HSV"), dtype=float)
    names = [colour_name(*px) for px in hsv.reshape(-1, 3)]
    return np.array(names, dtype=object).reshape(hsv.shape[:2])


def _thumbnail(img: Image.Image) -> Image.Image:
    small = img.convert("RGB")
    small.thumbnail((_SIDE, _SIDE))
    return small


def colour_shares(img: Image.Image) -> list[tuple[str, float]]:
    names = _names(_thumbnail(img)).ravel()
    counts = Counter(names.tolist())
    return [(name, n / len(names)) for name, n in counts.most_common()]


def classify_image(call: TaskCall) -> TaskAnswer:
    shares = colour_shares(_load(call))
    picks: list[tuple[str, float]] = []
    first, share = shares[0]
    second = shares[1] if len(shares) > 1 else (first, 0.0)
    plan = [(first, share, i) for i in range(3)]
    plan += [(second[0], second[1], i) for i in range(2)] if second[1] else []
    for name, colour_share, rank in plan:
        picks.append((LABELS[name][rank], colour_share * _DECAY[rank]))
    used = {label for label, _ in picks}
    for label in LABELS[first][3:]:
        if len(picks) < 5 and label not in used:
            picks.append((label, share * _DECAY[len(picks)]))
    picks.sort(key=lambda p: -p[1])
    return TaskAnswer(ENGINE_NAME, [{"label": lbl, "score": round(s, 6)} for lbl, s in picks[:5]])


def detect(img: Image.Image) -> list[dict[str, Any]]:
    small = _thumbnail(img)
    pixels = np.asarray(small, dtype=float)
    h, w = pixels.shape[:2]
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    background = np.median(border, axis=0)
    distance = np.sqrt(((pixels - background) ** 2).sum(axis=2))
    mask = distance > 60
    names = _names(small)
    seen = np.zeros_like(mask)
    sx, sy = img.width / w, img.height / h
    found = []
    for y0 in range(h):
        for x0 in range(w):
            if not mask[y0, x0] or seen[y0, x0]:
                continue
            cells = _region(mask, seen, y0, x0)
            if len(cells) < 0.01 * w * h:
                continue
            ys, xs = zip(*cells, strict=True)
            box = (min(xs), min(ys), max(xs) + 1, max(ys) + 1)
            bw, bh = box[2] - box[0], box[3] - box[1]
            colour = Counter(names[y, x] for y, x in cells).most_common(1)[0][0]
            label = "person" if bh > 1.6 * bw else "car" if bw > 1.6 * bh else None
            contrast = float(np.mean([distance[y, x] for y, x in cells]))
            found.append(
                {
                    "score": round(min(0.99, 0.5 + contrast / 400), 4),
                    "label": label or COCO_BY_COLOUR[colour],
                    "box": {
                        "xmin": round(box[0] * sx),
                        "ymin": round(box[1] * sy),
                        "xmax": round(box[2] * sx),
                        "ymax": round(box[3] * sy),
                    },
                    "_colour": colour,
                }
            )
    found.sort(key=lambda d: (-d["score"], d["box"]["ymin"], d["box"]["xmin"]))
    return found[:10]


def _region(mask: Any, seen: Any, y0: int, x0: int) -> list[tuple[int, int]]:
    h, w = mask.shape
    queue, cells = deque([(y0, x0)]), []
    seen[y0, x0] = True
    while queue:
        y, x = queue.popleft()
        cells.append((y, x))
        for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
            if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                seen[ny, nx] = True
                queue.append((ny, nx))
    return cells


def detect_objects(call: TaskCall) -> TaskAnswer:
    found = detect(_load(call))
    return TaskAnswer(ENGINE_NAME, [{k: v for k, v in d.items() if k != "_colour"} for d in found])


def _where(box: dict[str, int], width: int, height: int) -> str:
    cx = (box["xmin"] + box["xmax"]) / 2 / width
    cy = (box["ymin"] + box["ymax"]) / 2 / height
    row = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else ""
    col = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else ""
    return f"{row} {col}".strip() or "center"


def describe(img: Image.Image) -> str:
    shares = colour_shares(img)
    shape = (
        "square"
        if img.width == img.height
        else ("landscape" if img.width > img.height else "portrait")
    )
    text = f"A {img.width}x{img.height} {shape} image, mostly {shares[0][0]}"
    others = [name for name, share in shares[1:3] if share >= 0.05]
    text += f", with {' and '.join(others)}." if others else "."
    for d in detect(img)[:3]:
        text += f" There is a {d['_colour']} shape near the {_where(d['box'], *img.size)}."
    return text


def describe_image(call: TaskCall) -> TaskAnswer:
    text = describe(_load(call))
    limit = call.body.get("max_tokens")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0:
        text = " ".join(text.split()[:limit])
    result: dict[str, Any] = {"description": text}
    # moondream-style schemas: the text under the asked task's key, plus generation metadata
    # (the answer keeps only what the model's output schema declares).
    result["caption" if call.body.get("task") == "caption" else "answer"] = text
    result["finish_reason"] = "stop"
    words = len(text.split())
    result["metrics"] = {
        "input_tokens": 0, "output_tokens": words, "prefill_time_ms": 0.0,
        "decode_time_ms": float(words), "ttft_ms": 0.0,
    }  # fmt: skip
    return TaskAnswer(ENGINE_NAME, result)
