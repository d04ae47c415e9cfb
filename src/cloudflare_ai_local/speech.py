"""Local stand-ins for speech models: a transcriber that knows how long the audio is, and a
speaker that makes real audio whose length follows the text. Neither listens or speaks.

Speech recognition (whisper variants, nova-3, Deepgram flux). The audio comes in the form the
schema takes (an array of 0-255 integers, base64, or the raw body; see ``inputs``) and is
read by ``audio.inspect`` for its duration. The transcript is chosen in this order:

1. text embedded in the file: a WAV ``LIST/INFO`` ``ICMT``/``INAM`` chunk or an MP3's ID3v2
   ``USLT``/``TIT2`` frame. The local text-to-speech engine embeds its input there, so
   text -> speech -> text round-trips;
2. "" for silent 16-bit PCM (peak below ``audio.SILENCE_PEAK``);
3. otherwise ``FIXED_PHRASE`` repeated or cut to ``WORDS_PER_SECOND`` words per second.

Words are spread over the clip in proportion to their length (start/end in seconds, never past
the duration); ``vtt`` has one cue per ``VTT_WORDS`` words. Answers follow the output schema:
whisper's ``text``/``word_count``/``words``/``vtt`` (plus ``transcription_info`` and
``segments`` for whisper-large-v3-turbo, from its TypeScript types; UNCERTAIN: the constant
``avg_logprob``/``no_speech_prob`` values are placeholders), nova-3's
``results.channels[0].alternatives[0]``, flux's single ``EndOfTurn`` event (its websocket
stream is not emulated). A duration estimated from the file size is flagged in the
``x-local-audio-duration`` header.

Text to speech (aura-1, aura-2-en/es, melotts). The audio lasts ``0.25 s + (0.06 s per
character + 0.1 s) per word``. ``audio/mpeg`` answers (the default) are silent 48 kHz MP3
frames with the text in an ID3v2 USLT frame; ``encoding="linear16"`` gives a 24 kHz (or
``sample_rate``) 16-bit WAV, labelled ``audio/wav`` (UNCERTAIN: Cloudflare's label), with one
tone per word (pitch from the speaker's name) and the text in ``LIST/INFO``. Other encodings
(flac, opus, aac, mulaw, alaw) are refused with 5006: the local engine does not produce them.
melotts answers JSON ``{"audio": base64 MP3}`` (its schema).
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from typing import Any

import numpy as np

from . import audio, engines
from .engine_io import TaskAnswer, TaskCall
from .errors import bad_input
from .inputs import read_bytes

TRANSCRIBER = "duration-aligned-transcriber/1.0"
SPEAKER = "tone-speaker/1.0"
TURN_DETECTOR = "silence-turn-detector/1.0"
FIXED_PHRASE = "The quick brown fox jumps over the lazy dog."
WORDS_PER_SECOND = 2.5
VTT_WORDS = 8
DEFAULT_WAV_RATE = 24_000
_LEAD = 0.25  # seconds before the first word


# --- speech recognition ----------------------------------------------------------------------


def _audio_of(call: TaskCall) -> tuple[bytes | None, str]:
    value = call.body.get("audio")
    if value is None:
        return None, ""
    content_type = value.get("contentType", "") if isinstance(value, dict) else ""
    return read_bytes(value, "/audio"), str(content_type)


def transcript_for(info: audio.AudioInfo) -> str:
    if info.text is not None:
        return " ".join(info.text.split())
    if info.silent or info.duration < 0.2:
        return ""
    count = max(1, round(info.duration * WORDS_PER_SECOND))
    words = FIXED_PHRASE.split()
    picked = (words * math.ceil(count / len(words)))[:count]
    text = " ".join(picked).rstrip(".")
    return text + "."


def align(text: str, duration: float) -> list[dict[str, Any]]:
    """Word timings: each word's share of the clip is proportional to its length + 1."""
    words = text.split()
    if not words:
        return []
    lead = min(_LEAD, duration * 0.1)
    span = max(duration - lead, 0.0)
    weights = [len(w) + 1 for w in words]
    total = sum(weights)
    out, t = [], lead
    for word, weight in zip(words, weights, strict=True):
        step = span * weight / total
        out.append({"word": word, "start": round(t, 3), "end": round(min(t + step, duration), 3)})
        t += step
    return out


def _stamp(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def vtt(words: list[dict[str, Any]]) -> str:
    """WebVTT cues of ``VTT_WORDS`` words. UNCERTAIN: Cloudflare's exact cue layout."""
    out = ["WEBVTT", ""]
    for i in range(0, len(words), VTT_WORDS):
        cue = words[i : i + VTT_WORDS]
        out += [f"{_stamp(cue[0]['start'])} --> {_stamp(cue[-1]['end'])}"]
        out += [" ".join(w["word"] for w in cue), ""]
    return "\n".join(out) + "\n"


def transcribe(call: TaskCall) -> TaskAnswer:
    body = call.body
    data, content_type = _audio_of(call)
    encoding = str(body.get("encoding", ""))
    rate = int(str(body.get("sample_rate", "16000")) or 16000)
    if data is None:
        if call.output_has("event"):  # Deepgram flux: an empty stream is an empty turn
            return TaskAnswer(TRANSCRIBER, _flux_event("", [], 0.0))
        raise bad_input("Error: required properties at '/' are 'audio'")
    info = audio.inspect(data, content_type, encoding, rate)
    if engines.using_models():
        return _transcribe_with_model(call, data, info, rate)
    text = transcript_for(info)
    words = align(text, info.duration)
    headers = {}
    if info.estimated:
        headers["x-local-audio-duration"] = (
            f"{info.duration:.3f}s estimated from the size of a {info.format} file"
        )
    if call.output_has("results"):
        result: dict[str, Any] = _deepgram(text, words)
    elif call.output_has("event"):
        result = _flux_event(text, words, info.duration)
    else:
        result = _whisper(text, words, info, body)
    return TaskAnswer(TRANSCRIBER, result, headers=headers)


def _transcribe_with_model(
    call: TaskCall, data: bytes, info: audio.AudioInfo, rate: int
) -> TaskAnswer:
    """engine="models": whisper-base listens to the audio (text embedded by the local
    speaker is ignored: its tones are not speech)."""
    from .models import whisper

    model = whisper.model()  # a model that cannot load is not the audio's fault
    raw_rate = (rate if rate > 0 else 16000) if info.format == "pcm" else None
    try:
        heard = model.transcribe(
            data, language=whisper.language_code(call.body.get("language")), raw_pcm_rate=raw_rate
        )
    except (ValueError, OSError) as exc:
        raise bad_input(f"Error: the audio could not be decoded ({exc})") from exc
    if call.output_has("results"):
        result: dict[str, Any] = _deepgram(heard.text, heard.words)
    elif call.output_has("event"):
        result = _flux_event(heard.text, heard.words, heard.duration)
    else:
        result = _whisper(heard.text, heard.words, info, call.body)
        result["segments"] = heard.segments
        result["transcription_info"].update(
            language=heard.language,
            language_probability=round(heard.language_probability, 3),
            duration=round(heard.duration, 3),
            duration_after_vad=round(heard.duration, 3),
        )
    return TaskAnswer(whisper.ENGINE_NAME, result)


def _whisper(
    text: str, words: list[dict[str, Any]], info: audio.AudioInfo, body: Any
) -> dict[str, Any]:
    segment = {
        "start": words[0]["start"] if words else 0.0,
        "end": words[-1]["end"] if words else 0.0,
        "text": text,
        "temperature": 0.0,
        "avg_logprob": -0.2,
        "compression_ratio": 1.2,
        "no_speech_prob": 0.9 if not words else 0.02,
        "words": words,
    }
    return {
        "text": text,
        "word_count": len(words),
        "words": words,
        "vtt": vtt(words),
        "segments": [segment] if words else [],
        "transcription_info": {
            "language": str(body.get("language") or "en"),
            "language_probability": 0.99,
            "duration": round(info.duration, 3),
            "duration_after_vad": round(info.duration, 3),
        },
    }


def _deepgram(text: str, words: list[dict[str, Any]]) -> dict[str, Any]:
    scored = [{**w, "confidence": 0.99} for w in words]
    alternative = {"confidence": 0.99 if words else 0.0, "transcript": text, "words": scored}
    return {"results": {"channels": [{"alternatives": [alternative]}]}}


def _flux_event(text: str, words: list[dict[str, Any]], duration: float) -> dict[str, Any]:
    return {
        "request_id": str(uuid.uuid4()),
        "sequence_id": 0,
        "event": "EndOfTurn",
        "turn_index": 0,
        "audio_window_start": 0.0,
        "audio_window_end": round(duration, 3),
        "transcript": text,
        "words": [{"word": w["word"], "confidence": 0.99} for w in words],
        "end_of_turn_confidence": 0.9 if words else 0.0,
    }


# --- text to speech --------------------------------------------------------------------------


def speech_seconds(text: str) -> float:
    return _LEAD + sum(0.06 * len(w) + 0.1 for w in text.split())


def _tones(text: str, speaker: str, rate: int) -> np.ndarray[Any, np.dtype[np.int16]]:
    """One decaying tone per word, pitch from the speaker's name and the word."""
    base = 110 + int.from_bytes(hashlib.blake2b(speaker.encode(), digest_size=2).digest()) % 110
    out = [np.zeros(int(_LEAD * rate))]
    for word in text.split():
        n = int((0.06 * len(word) + 0.06) * rate)
        t = np.arange(n) / rate
        pitch = base * (1 + (sum(map(ord, word)) % 7) / 12)
        envelope = np.minimum(1.0, t * 50) * np.exp(-t * 3)
        out.append(0.4 * envelope * np.sin(2 * math.pi * pitch * t))
        out.append(np.zeros(int(0.04 * rate)))
    wave = np.concatenate(out)
    return np.asarray(np.rint(wave * 32767), dtype=np.int16)


def speak(call: TaskCall) -> TaskAnswer:
    text = call.text("text", "prompt")
    if not text.strip():
        raise bad_input("Error: the text to speak is empty")
    speaker = str(call.body.get("speaker") or call.input_property("speaker").get("default", ""))
    encoding = str(call.body.get("encoding") or "mp3")
    if encoding == "linear16":
        rate = call.body.get("sample_rate")
        rate = int(rate) if isinstance(rate, int | float) and 8000 <= rate <= 48000 else None
        rate = rate or DEFAULT_WAV_RATE
        data = audio.wav_bytes(_tones(text, speaker, rate), rate, text)
        return TaskAnswer(SPEAKER, media=data, media_type="audio/wav")
    if encoding != "mp3":
        raise bad_input(f"Error: encoding '{encoding}' is not produced by the local engine")
    media_type = call.media_type("audio")
    data = audio.mp3_bytes(speech_seconds(text), re.sub(r"\s+", " ", text).strip())
    return TaskAnswer(SPEAKER, media=data, media_type=media_type)


# --- end-of-turn detection (voice activity) ----------------------------------------------------


def detect_turn(call: TaskCall) -> TaskAnswer:
    """smart-turn: a turn is complete when the clip is silent or has text embedded (a finished
    utterance); the probability says how sure, deterministically. UNCERTAIN: the real model
    judges prosody, which no local engine can."""
    data, content_type = _audio_of(call)
    if data is None:
        raise bad_input("Error: required properties at '/' are 'audio'")
    info = audio.inspect(data, content_type)
    complete = info.silent or bool(info.text)
    probability = 0.9 if complete else round(min(0.4, 0.1 + info.duration / 100), 3)
    return TaskAnswer(TURN_DETECTOR, {"is_complete": complete, "probability": probability})
