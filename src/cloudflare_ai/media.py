"""Images and audio going to and coming from Workers AI.

Callers hand over media as ``bytes``, a file path (``str`` or :class:`pathlib.Path`) or a
binary file object; :func:`read_media` turns any of them into ``bytes`` once, and the checks
here refuse what cannot succeed (empty input, a text-mode file, bytes that are not an image,
an oversized upload) with a :class:`~cloudflare_ai.errors.ValidationError` naming the argument,
before anything is sent.

Formats are recognised from their first bytes (magic numbers), never from file names. Pillow is
imported only by the functions that need it, so importing this module stays cheap.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

from .errors import ValidationError

#: What the media arguments accept: raw bytes, a path to a file, or a file opened with ``"rb"``.
MediaInput = bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]

#: Largest image sent. UNCERTAIN: Cloudflare publishes no limit for Workers AI image inputs;
#: 10 MiB is the upload limit of Cloudflare Images, and an image sent as an array of integers
#: (the form of most models) grows about 3.6 times in JSON.
MAX_IMAGE_BYTES = 10 * 1024 * 1024

#: Largest audio file sent. UNCERTAIN: no published limit for Workers AI speech recognition; at
#: this size the JSON integer-array form (about 3.6 bytes per byte) stays under the 100 MB
#: request body limit of Cloudflare's Free and Pro plans.
MAX_AUDIO_BYTES = 25 * 1024 * 1024

#: The brightest 8-bit luma an image may have and still count as blank. Workers AI answers a
#: prompt its safety filter refuses with an all-black image; JPEG encoding can lift pure black
#: by a few levels, so "black" tolerates a little.
BLANK_MAX_LUMA = 8

_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/tiff": ".tiff",
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/flac": ".flac",
    "audio/ogg": ".ogg",
    "audio/opus": ".opus",
    "audio/webm": ".webm",
    "audio/aac": ".aac",
    "audio/mp4": ".m4a",
    "audio/aiff": ".aiff",
    "audio/amr": ".amr",
}

#: Extensions that name the same format as the canonical one above.
_SYNONYMS = {".jpeg": ".jpg", ".jpe": ".jpg", ".tif": ".tiff", ".aif": ".aiff"}


def read_media(value: Any, *, field: str) -> bytes:
    """The bytes of ``value`` (bytes, a path, or a binary file object), read once."""
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, bytearray | memoryview):
        data = bytes(value)
    elif isinstance(value, str | os.PathLike):
        path = Path(value)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ValidationError(
                f"{field}: no such file {str(path)!r} (a str is read as a file path; pass the "
                "content as bytes)",
                field=field,
            ) from None
        except (IsADirectoryError, PermissionError, OSError) as exc:
            raise ValidationError(
                f"{field}: cannot read {str(path)!r}: {exc.strerror or exc}", field=field
            ) from None
    elif callable(getattr(value, "read", None)):
        data = value.read()
        if isinstance(data, str):
            raise ValidationError(
                f"{field}: the file is open in text mode; open it with 'rb'", field=field
            )
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        if not isinstance(data, bytes):
            raise ValidationError(
                f"{field}: read() returned {type(data).__name__}, not bytes", field=field
            )
    else:
        raise ValidationError(
            f"{field} must be bytes, a file path or a binary file object, got "
            f"{type(value).__name__}",
            field=field,
        )
    if not data:
        raise ValidationError(f"{field} is empty", field=field)
    return data


def is_media_value(value: Any) -> bool:
    """Whether ``value`` is media rather than JSON (``str`` is text there, never a path)."""
    return isinstance(value, bytes | bytearray | memoryview | os.PathLike) or callable(
        getattr(value, "read", None)
    )


# --- recognising formats ------------------------------------------------------------------------


def sniff_image(data: bytes) -> str | None:
    """The MIME type of an image from its first bytes, or None."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"BM"):
        return "image/bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    return None


def sniff_audio(data: bytes) -> str | None:
    """The MIME type of an audio file from its first bytes, or None."""
    head = data[:16]
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio/webm"
    if head[4:8] == b"ftyp":
        return "audio/mp4"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # An MPEG frame sync; layer bits 00 mark AAC in an ADTS stream instead.
        return "audio/aac" if head[1] & 0x06 == 0 else "audio/mpeg"
    return None


#: MPEG-1 Layer III bitrates (kbit/s) by the header's 4-bit index; MPEG-2/2.5 Layer III.
_MP3_KBPS_V1 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0)
_MP3_KBPS_V2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0)


def _id3_end(data: bytes) -> int:
    """Where the audio of an MP3 starts, after an ID3v2 tag (0 without one)."""
    if data[:3] != b"ID3" or len(data) < 10:
        return 0
    size = 0
    for byte in data[6:10]:
        size = (size << 7) | (byte & 0x7F)
    return 10 + size


def audio_seconds(data: bytes) -> float | None:
    """The length of an audio file in seconds, where it can be read cheaply: WAV exactly (its
    header), MP3 from the first frame's bitrate (exact for constant bitrate; UNCERTAIN for
    variable bitrate files, which this reads as constant). None for other formats."""
    kind = sniff_audio(data)
    if kind == "audio/wav":
        import wave

        try:
            with wave.open(_buffer(data)) as audio:
                rate = audio.getframerate()
                return audio.getnframes() / rate if rate else None
        except (wave.Error, EOFError):
            return None
    if kind == "audio/mpeg":
        start = _id3_end(data)
        header = data[start : start + 4]
        if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
            return None
        version = (header[1] >> 3) & 0x03  # 3 = MPEG-1
        table = _MP3_KBPS_V1 if version == 3 else _MP3_KBPS_V2
        kbps = table[header[2] >> 4]
        return (len(data) - start) * 8 / (kbps * 1000) if kbps else None
    return None


def media_type(content_type: str) -> str:
    """``image/png`` from ``image/png; charset=binary`` (lower case, parameters dropped)."""
    return content_type.split(";", 1)[0].strip().lower()


def is_binary_content_type(content_type: str | None) -> bool:
    """Whether a response with this content type carries media rather than JSON or text."""
    kind = media_type(content_type or "")
    return kind.startswith(("image/", "audio/", "video/")) or kind == "application/octet-stream"


def extension_for(content_type: str) -> str | None:
    """The usual file extension (with the dot) for a media type, or None."""
    kind = media_type(content_type)
    if kind in _EXTENSIONS:
        return _EXTENSIONS[kind]
    import mimetypes

    return mimetypes.guess_extension(kind)


# --- checks before sending ----------------------------------------------------------------------


def check_image(data: bytes, *, field: str, max_bytes: int | None = None) -> str:
    """The MIME type of ``data`` after making sure it is a readable image of acceptable size."""
    limit = MAX_IMAGE_BYTES if max_bytes is None else max_bytes
    if len(data) > limit:
        raise ValidationError(
            f"{field} is {len(data):,} bytes; images up to {limit:,} bytes are sent",
            field=field,
        )
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(_buffer(data)) as image:
            fmt = image.format
            image.verify()
    except Image.DecompressionBombError as exc:
        raise ValidationError(f"{field} is too large an image: {exc}", field=field) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(
            f"{field} is not a readable image ({type(exc).__name__}: {exc})", field=field
        ) from None
    return sniff_image(data) or Image.MIME.get(fmt or "", "application/octet-stream")


def check_audio(
    data: bytes, *, field: str, content_type: str | None = None, max_bytes: int | None = None
) -> str:
    """The MIME type of ``data`` after making sure it is audio of acceptable size.

    Audio this module cannot recognise (raw PCM, say) is accepted only with an explicit
    ``content_type``."""
    limit = MAX_AUDIO_BYTES if max_bytes is None else max_bytes
    if len(data) > limit:
        raise ValidationError(
            f"{field} is {len(data):,} bytes; audio up to {limit:,} bytes is sent",
            field=field,
        )
    if content_type:
        return content_type
    kind = sniff_audio(data)
    if kind is None:
        raise ValidationError(
            f"{field} is not a recognised audio file (MP3, WAV, FLAC, Ogg, WebM, MP4/M4A, AAC, "
            "AIFF, AMR); pass content_type=... to send another format",
            field=field,
        )
    return kind


# --- reading results ----------------------------------------------------------------------------


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of an image."""
    from PIL import Image

    with Image.open(_buffer(data)) as image:
        width, height = image.size
    return width, height


def is_blank_image(data: bytes) -> bool:
    """Whether every pixel is black (within :data:`BLANK_MAX_LUMA`)."""
    from PIL import Image

    with Image.open(_buffer(data)) as image:
        extrema = image.convert("L").getextrema()
    brightest = extrema[1]  # (darkest, brightest) for a one-band image
    return isinstance(brightest, int | float) and brightest <= BLANK_MAX_LUMA


def save_path(path: str | os.PathLike[str], content_type: str) -> Path:
    """Where to save media of ``content_type`` asked to go to ``path``: the right extension is
    added when ``path`` has none; an extension naming another format is refused."""
    target = Path(path)
    wanted = extension_for(content_type)
    if wanted is None:
        return target
    if not target.suffix:
        return target.with_name(target.name + wanted)
    given = target.suffix.lower()
    if _SYNONYMS.get(given, given) != _SYNONYMS.get(wanted, wanted):
        raise ValidationError(
            f"the data is {media_type(content_type)}; saving it as {target.name!r} would "
            f"mislabel it: use the extension {wanted!r} or none",
            field="path",
        )
    return target


def _buffer(data: bytes) -> Any:
    import io

    return io.BytesIO(data)
