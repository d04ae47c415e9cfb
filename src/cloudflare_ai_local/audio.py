"""Audio containers for the local speech engines: reading what a clip is and how long it
lasts, and writing WAV and MP3.

Reading (:func:`inspect`), by the bytes' signature:

* WAV (RIFF/WAVE): the stdlib ``wave`` module gives the exact duration of PCM; other
  encodings use the ``fmt`` byte rate. Text in a ``LIST/INFO`` chunk (``ICMT``, else
  ``INAM``) is returned as the clip's embedded text. 16-bit PCM whose peak is below
  ``SILENCE_PEAK`` counts as silent;
* MP3 (an ID3v2 tag or an MPEG audio frame sync): frames are walked for the exact duration
  (MPEG-1/2/2.5 Layer III); an ID3v2 ``USLT`` (lyrics/transcription) or ``TIT2`` frame is
  the embedded text;
* FLAC: the STREAMINFO block's sample count;
* raw ``linear16`` PCM (content type ``audio/l16``/``audio/pcm`` or ``encoding=linear16``);
* Ogg, WebM/Matroska, MP4/M4A: the duration is *estimated* from the size at 128 kbit/s
  (``AudioInfo.estimated``);
* anything else is not audio: 5006.

Writing: :func:`wav_bytes` (16-bit mono PCM via ``wave``, text in ``LIST/INFO/ICMT``) and
:func:`mp3_bytes` (an ID3v2.4 tag with the text as ``USLT``, then silent MPEG-1 Layer III
frames: 48 kHz mono at 128 kbit/s, each a frame header and zeroed side info and main data,
which decoders play as 24 ms of silence).
"""

from __future__ import annotations

import io
import math
import struct
import wave
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .errors import bad_input

SILENCE_PEAK = 64  # of 32767
ESTIMATE_BYTES_PER_SECOND = 16_000  # 128 kbit/s

_MP3_RATE = 48_000
_MP3_FRAME = bytes([0xFF, 0xFB, 0x94, 0xC0]) + bytes(380)  # 144 * 128000 / 48000 = 384 bytes
_MP3_FRAME_SECONDS = 1152 / _MP3_RATE
_BITRATES_V1_L3 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
_BITRATES_V2_L3 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
_RATES = {3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000]}


@dataclass(frozen=True, slots=True)
class AudioInfo:
    format: str
    duration: float
    estimated: bool = False
    text: str | None = None
    silent: bool = False


def inspect(
    data: bytes, content_type: str = "", encoding: str = "", rate: int = 16000
) -> AudioInfo:
    """What ``data`` is (5006 when it is no audio this module knows)."""
    kind = content_type.split(";")[0].strip().lower()
    if not data:
        raise bad_input("Error: the audio is empty")
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return _wav(data)
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return _mp3(data)
    if data[:4] == b"fLaC" and len(data) >= 26:
        info = int.from_bytes(data[18:26], "big")
        sample_rate, total = info >> 44, info & ((1 << 36) - 1)
        if sample_rate and total:
            return AudioInfo("flac", total / sample_rate)
        return AudioInfo("flac", len(data) / ESTIMATE_BYTES_PER_SECOND, estimated=True)
    if encoding == "linear16" or kind in ("audio/l16", "audio/pcm", "audio/raw"):
        if len(data) % 2:
            raise bad_input("Error: linear16 audio must have an even number of bytes")
        samples = np.frombuffer(data, dtype="<i2")
        return AudioInfo("pcm", len(samples) / max(rate, 1), silent=_quiet(samples))
    container = _estimated_container(data)
    if container:
        return AudioInfo(container, len(data) / ESTIMATE_BYTES_PER_SECOND, estimated=True)
    raise bad_input(
        "Error: the audio could not be decoded (expected WAV, MP3, FLAC, Ogg, WebM or MP4)"
    )


def _estimated_container(data: bytes) -> str | None:
    if data[:4] == b"OggS":
        return "ogg"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if data[4:8] == b"ftyp":
        return "mp4"
    return None


def _quiet(samples: npt.NDArray[np.int16]) -> bool:
    return samples.size == 0 or int(np.abs(samples.astype(np.int32)).max()) < SILENCE_PEAK


def _chunks(data: bytes, start: int, end: int) -> list[tuple[bytes, bytes]]:
    out = []
    pos = start
    while pos + 8 <= end:
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        out.append((cid, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return out


def _wav(data: bytes) -> AudioInfo:
    chunks = _chunks(data, 12, len(data))
    text = None
    for cid, payload in chunks:
        if cid == b"LIST" and payload[:4] == b"INFO":
            info = dict(_chunks(payload, 4, len(payload)))
            raw = info.get(b"ICMT", info.get(b"INAM"))
            if raw is not None:
                text = raw.rstrip(b"\0").decode("utf-8", "replace")
    try:
        with wave.open(io.BytesIO(data)) as w:
            frames, rate, width = w.getnframes(), w.getframerate(), w.getsampwidth()
            pcm = w.readframes(frames)
        silent = width == 2 and _quiet(np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2"))
        return AudioInfo("wav", frames / rate if rate else 0.0, text=text, silent=silent)
    except (wave.Error, EOFError, struct.error):
        pass
    fmt = next((p for c, p in chunks if c == b"fmt "), b"")
    body = next((p for c, p in chunks if c == b"data"), None)
    if len(fmt) < 16 or body is None:
        raise bad_input("Error: the audio could not be decoded (a broken WAV file)")
    byte_rate = struct.unpack("<I", fmt[8:12])[0]
    if not byte_rate:
        raise bad_input("Error: the audio could not be decoded (a broken WAV file)")
    return AudioInfo("wav", len(body) / byte_rate, text=text)


def _id3_text(tag: bytes) -> str | None:
    """USLT (else TIT2) text of an ID3v2.3/2.4 tag body."""
    version = tag[3]
    found: dict[bytes, str] = {}
    pos = 10
    end = 10 + _synchsafe(tag[6:10])
    while pos + 10 <= min(end, len(tag)):
        fid = tag[pos : pos + 4]
        raw = tag[pos + 4 : pos + 8]
        size = _synchsafe(raw) if version == 4 else int.from_bytes(raw, "big")
        if not fid.strip(b"\0") or size <= 0:
            break
        body = tag[pos + 10 : pos + 10 + size]
        found[fid] = _id3_string(body, fid == b"USLT")
        pos += 10 + size
    return found.get(b"USLT", found.get(b"TIT2"))


def _id3_string(body: bytes, lyrics: bool) -> str:
    encoding, rest = body[:1], body[1:]
    codec = {b"\0": "latin-1", b"\1": "utf-16", b"\2": "utf-16-be"}.get(encoding, "utf-8")
    if lyrics:  # language (3 bytes), a descriptor, its terminator, then the text
        rest = rest[3:]
        term = b"\0\0" if codec.startswith("utf-16") else b"\0"
        cut = rest.find(term)
        rest = rest[cut + len(term) :] if cut >= 0 else rest
    return rest.decode(codec, "replace").rstrip("\0")


def _synchsafe(raw: bytes) -> int:
    return (raw[0] << 21) | (raw[1] << 14) | (raw[2] << 7) | raw[3]


def _mp3(data: bytes) -> AudioInfo:
    pos, text = 0, None
    if data[:3] == b"ID3" and len(data) >= 10:
        pos = 10 + _synchsafe(data[6:10])
        text = _id3_text(data[:pos])
    seconds, frames = 0.0, 0
    while pos + 4 <= len(data):
        b1, b2 = data[pos + 1], data[pos + 2]
        if data[pos] != 0xFF or b1 & 0xE0 != 0xE0:
            break
        version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
        bitrate_index, rate_index = b2 >> 4, (b2 >> 2) & 3
        if layer != 1 or version == 1 or rate_index == 3 or bitrate_index in (0, 15):
            break  # only Layer III frames are walked
        table = _BITRATES_V1_L3 if version == 3 else _BITRATES_V2_L3
        rate = _RATES[version][rate_index]
        samples = 1152 if version == 3 else 576
        length = samples // 8 * table[bitrate_index] * 1000 // rate + ((b2 >> 1) & 1)
        seconds += samples / rate
        frames += 1
        pos += length
    if frames == 0:
        raise bad_input("Error: the audio could not be decoded (no MPEG audio frames)")
    return AudioInfo("mp3", seconds, text=text)


def wav_bytes(samples: npt.NDArray[np.int16], rate: int, text: str | None = None) -> bytes:
    """A mono 16-bit PCM WAV file, with ``text`` in a ``LIST/INFO/ICMT`` chunk."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    out = bytearray(buf.getvalue())
    if text:
        value = text.encode() + b"\0"
        value += b"\0" * (len(value) & 1)
        sub = b"ICMT" + struct.pack("<I", len(value)) + value
        out += b"LIST" + struct.pack("<I", 4 + len(sub)) + b"INFO" + sub
        out[4:8] = struct.pack("<I", len(out) - 8)
    return bytes(out)


def mp3_bytes(seconds: float, text: str | None = None) -> bytes:
    """Silent MP3 of at least ``seconds`` (whole 24 ms frames), ``text`` as ID3v2.4 USLT."""
    frames = max(1, math.ceil(seconds / _MP3_FRAME_SECONDS))
    tag = b""
    if text:
        body = b"\x03eng\0" + text.encode()
        frame = b"USLT" + _to_synchsafe(len(body)) + b"\0\0" + body
        tag = b"ID3\x04\0\0" + _to_synchsafe(len(frame)) + frame
    return tag + _MP3_FRAME * frames


def _to_synchsafe(value: int) -> bytes:
    return bytes([(value >> 21) & 0x7F, (value >> 14) & 0x7F, (value >> 7) & 0x7F, value & 0x7F])
