"""A tracker made active twice in one context (a framework handler's trace inside the
handler's own ``with`` block) records each call once."""

from __future__ import annotations

from cloudflare_ai.types import Usage
from cloudflare_ai.usage import MeteredCall, UsageTracker, activate, active_trackers, deactivate


def test_a_tracker_active_twice_records_once() -> None:
    tracker = UsageTracker()
    with tracker:
        token = activate(tracker)
        assert active_trackers() == (tracker,)
        call = MeteredCall("@cf/meta/llama-3.1-8b-instruct", lambda: None)
        call.hold()
        call.finish(Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15))
        deactivate(token)
        assert active_trackers() == (tracker,)
    assert active_trackers() == ()
    assert tracker.total.calls == 1 and tracker.total.total_tokens == 15
