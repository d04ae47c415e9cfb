"""Real small models for the emulator's ``engine="models"`` (see :mod:`..engines`).

Each submodule loads its model on first use, after checking its weight files
(:mod:`.weights`), and keeps it for the process: :mod:`.embedder` (all-MiniLM-L6-v2),
:mod:`.chat` (SmolLM2-135M-Instruct), :mod:`.whisper` (whisper-base). Their runtimes
(onnxruntime, tokenizers, xllamacpp, faster-whisper) are imported only there, so the
deterministic emulator never needs them.
"""
