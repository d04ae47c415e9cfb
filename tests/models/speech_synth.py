"""Speech for the whisper engine's tests, made here with eSpeak NG (the ``espeakng-loader``
wheel bundles the library and its voices; GPL-3.0, used by the tests only, never shipped).

Called through ctypes with eSpeak NG's documented C API: synchronous synthesis into a
callback that receives 16-bit mono samples at the rate ``espeak_Initialize`` returns."""

from __future__ import annotations

import ctypes
import importlib.util
import io
import threading
import wave
from pathlib import Path

import numpy as np

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)
_lock = threading.Lock()


def _root() -> Path:
    spec = importlib.util.find_spec("espeakng_loader")
    assert spec is not None and spec.submodule_search_locations, "espeakng-loader is missing"
    return Path(next(iter(spec.submodule_search_locations)))


def speak_wav(text: str, voice: str = "en") -> bytes:
    """A mono 16-bit WAV of ``text`` spoken by eSpeak NG."""
    root = _root()
    lib = ctypes.CDLL(str(root / "libespeak-ng.so"))
    chunks: list[np.ndarray] = []

    def receive(samples: object, count: int, _events: object) -> int:
        if count > 0:
            chunks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
        return 0

    callback = _SYNTH_CALLBACK(receive)
    with _lock:
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, str(root / "espeak-ng-data").encode(), 0
        )
        assert rate > 0, "eSpeak NG did not start"
        lib.espeak_SetSynthCallback(callback)
        assert lib.espeak_SetVoiceByName(voice.encode()) == 0, f"no eSpeak voice {voice!r}"
        data = text.encode()
        lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, 0, None, None)
        lib.espeak_Synchronize()
    pcm = np.concatenate(chunks).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    return out.getvalue()
