"""Connection settings of the LangChain classes, defined once in ``cloudflare_ai.connection``."""

from ..connection import CloudflareConnection, resolve_settings, running_loop

_running_loop = running_loop

__all__ = ["CloudflareConnection", "resolve_settings", "running_loop"]
