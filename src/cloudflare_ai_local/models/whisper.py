"""whisper-base as a real local speech-recognition engine (faster-whisper on CTranslate2, int8).

The audio is decoded to 16 kHz mono with faster-whisper's own decoder (PyAV: WAV, MP3, FLAC,
Ogg and the rest); raw 16-bit PCM without a header (Deepgram's ``linear16``) is read
directly at its stated rate. Greedy decoding (beam 1) keeps a short clip to a few seconds on
two cores; words carry the model's own timings.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from . import weights
from .errors import ModelsUnavailableError

ENGINE_NAME = "whisper-base int8 on faster-whisper (local model)"
SAMPLE_RATE = 16_000


@dataclass(slots=True)
class Heard:
    """A transcript with word timings (seconds) and what the model detected."""

    text: str
    words: list[dict[str, Any]]
    language: str
    language_probability: float
    duration: float
    segments: list[dict[str, Any]]


def pcm16_to_float(data: bytes, rate: int) -> npt.NDArray[np.float32]:
    """Headerless little-endian 16-bit mono PCM at ``rate`` as 16 kHz float samples."""
    pcm = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2")
    samples: npt.NDArray[np.float32] = pcm.astype(np.float32) / np.float32(32768)
    if rate == SAMPLE_RATE or samples.size == 0:
        return samples
    count = max(1, round(samples.size * SAMPLE_RATE / rate))
    positions = np.linspace(0, samples.size - 1, count)
    resampled: npt.NDArray[np.float32] = np.interp(
        positions, np.arange(samples.size), samples
    ).astype(np.float32)
    return resampled


def language_code(value: object) -> str | None:
    """Whisper's code for a requested language: ``"en"`` from ``"en"``, ``"en-US"`` or
    ``"EN"``; None (detect it) for anything Whisper does not know, such as Deepgram's
    ``"multi"``, so a tag the real service accepts is never an error here."""
    if not isinstance(value, str) or not value.strip():
        return None
    code = value.strip().split("-")[0].split("_")[0].lower()
    try:
        from faster_whisper.tokenizer import _LANGUAGE_CODES
    except ImportError:  # pragma: no cover - the module is there whenever whisper loads
        return code
    return code if code in _LANGUAGE_CODES else None


class Whisper:
    """One loaded model; faster-whisper serialises its own calls."""

    def __init__(self, threads: int = 2) -> None:
        try:
            from faster_whisper import WhisperModel, decode_audio
        except ImportError as exc:
            raise ModelsUnavailableError(
                f"the local speech model needs faster-whisper ({exc}); install the local "
                "models with: " + weights.install_hint()
            ) from exc
        self._decode = decode_audio
        self._model = WhisperModel(
            str(weights.whisper_dir()),
            device="cpu",
            compute_type="int8",
            cpu_threads=threads,
            local_files_only=True,
        )
        self._lock = threading.Lock()

    def decode(self, data: bytes, raw_pcm_rate: int | None = None) -> npt.NDArray[np.float32]:
        """16 kHz mono float samples of ``data`` (a container, or raw PCM at ``raw_pcm_rate``)."""
        if raw_pcm_rate:
            return pcm16_to_float(data, raw_pcm_rate)
        samples = self._decode(io.BytesIO(data), sampling_rate=SAMPLE_RATE)
        return np.asarray(samples, dtype=np.float32)

    def transcribe(
        self, data: bytes, *, language: str | None = None, raw_pcm_rate: int | None = None
    ) -> Heard:
        audio = self.decode(data, raw_pcm_rate)
        with self._lock:
            segments_iter, info = self._model.transcribe(
                audio,
                language=language or None,
                beam_size=1,
                word_timestamps=True,
                vad_filter=False,
                condition_on_previous_text=False,
            )
            segments = list(segments_iter)
        words: list[dict[str, Any]] = []
        out_segments: list[dict[str, Any]] = []
        for seg in segments:
            seg_words = [
                {"word": w.word.strip(), "start": round(w.start, 3), "end": round(w.end, 3)}
                for w in (seg.words or ())
                if w.word.strip()
            ]
            words.extend(seg_words)
            out_segments.append(
                {
                    "start": round(seg.start, 3),
                    "end": round(seg.end, 3),
                    "text": seg.text.strip(),
                    "temperature": float(seg.temperature),
                    "avg_logprob": float(seg.avg_logprob),
                    "compression_ratio": float(seg.compression_ratio),
                    "no_speech_prob": float(seg.no_speech_prob),
                    "words": seg_words,
                }
            )
        text = " ".join(s["text"] for s in out_segments if s["text"])
        return Heard(
            text=text,
            words=words,
            language=str(info.language),
            language_probability=float(info.language_probability),
            duration=float(info.duration),
            segments=out_segments,
        )


_model: Whisper | None = None
_lock = threading.Lock()


def model() -> Whisper:
    """The process's shared whisper-base, joined, checked and loaded on first use."""
    global _model
    with _lock:
        if _model is None:
            _model = Whisper()
        return _model
