"""The weights are the ones we meant: the MiniLM fp32 file has upstream's published sha256,
and the int8 ONNX export (no upstream hash exists for it) computes the same sentence vectors
as a plain-numpy forward pass over that fp32 file."""

from __future__ import annotations

import numpy as np
from tokenizers import Tokenizer

from cloudflare_ai_local.models import embedder, weights

from .minilm_reference import embed, read_safetensors

#: sha256 of model.safetensors as listed by Hugging Face for
#: sentence-transformers/all-MiniLM-L6-v2 (checked when the package was chosen).
UPSTREAM_SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

SENTENCES = [
    "Vectorize applies writes asynchronously, so a query may miss a vector for a few seconds.",
    "The gateway answers from its cache when the same request arrives within the TTL.",
    "Feed the leaven culture flour and water every day.",
    "Quarterly revenue grew by twelve percent.",
]


def test_the_fp32_weights_are_upstreams() -> None:
    assert weights.MINILM_SAFETENSORS.sha256 == UPSTREAM_SAFETENSORS_SHA256
    path = weights.verified(weights.MINILM_SAFETENSORS)
    assert weights.sha256_of(path) == UPSTREAM_SAFETENSORS_SHA256


def test_the_int8_export_agrees_with_the_upstream_weights() -> None:
    reference_weights = read_safetensors(weights.verified(weights.MINILM_SAFETENSORS))
    tokenizer = Tokenizer.from_file(str(weights.verified(weights.MINILM_TOKENIZER)))
    tokenizer.no_padding()  # the file pads every text to 128 tokens
    reference = np.array([embed(reference_weights, tokenizer.encode(s).ids) for s in SENTENCES])
    served = embedder.model().embed(SENTENCES, 384).astype(np.float64)
    agreement = np.sum(reference * served, axis=1)  # both unit length: cosine
    # int8 quantisation moves vectors a little (0.9996 when written); a different or
    # tampered model would not come near (these unrelated sentences score -0.03 to 0.19).
    assert agreement.min() > 0.995, agreement
    # and the two agree on which sentences are alike
    np.testing.assert_allclose(served @ served.T, reference @ reference.T, atol=0.02)
