"""The application built on the cloudflare-ai library: the ``cloudflare-ai`` command line, the
demo, file ingestion, question answering with sources, and the choice between a real Cloudflare
account and the local emulator.

The library (:mod:`cloudflare_ai`) never imports this package; this package imports the library
and, when no credentials are set, the emulator (:mod:`cloudflare_ai_local`).
"""
