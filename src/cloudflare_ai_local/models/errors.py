"""The one error the real engines raise when they cannot run."""

from __future__ import annotations


class ModelsUnavailableError(RuntimeError):
    """The real local models were asked for but a runtime or weight package is missing, or a
    weight file is not the one pinned. The message says what to install."""
