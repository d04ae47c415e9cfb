"""Usage trackers: what a block of code spent on Workers AI, per model and in total, with an
optional budget that refuses a call before it is sent.

```python
from cloudflare_ai.usage import track_usage

with track_usage(budget_neurons=10_000) as usage:   # the daily free allocation
    client.chat(model, messages)
    client.embed(texts)
print(usage.total.neurons, usage.total.cost_usd, usage.by_model)
```

Every Workers AI call of the core clients (sync and async: chat, streams, embeddings,
``run`` and every task method) records into **every** tracker active where the call was made:
trackers nest, and an outer one sees what inner ones see. Activity is held in a
:class:`contextvars.ContextVar`, so it follows asyncio tasks and threads started with a copy
of the context (LangChain's executors do so); a plain :class:`threading.Thread` starts with an
empty context and records nothing unless run in a copy (``contextvars.copy_context().run``).
The clients record in the calling context even when they fan out to worker threads (the
embedding batches), and a stream records into the trackers active where it was created.
Totals are kept under a lock, so concurrent calls add up exactly.

**Budgets.** With ``budget_neurons`` and/or ``budget_usd``, a call whose estimated cost (see
:mod:`cloudflare_ai.metering`) added to what is spent and in flight would exceed the budget is
refused with :class:`~cloudflare_ai.errors.BudgetExceededError` before anything is sent. Calls
in flight hold their estimate until they finish, so concurrent calls cannot overshoot together.
A call of a model without a published price costs nothing here (it is counted in
``unpriced_calls``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from .costs import Cost
from .errors import BudgetExceededError
from .types import Usage

_active: ContextVar[tuple[UsageTracker, ...]] = ContextVar("cloudflare_ai_usage", default=())


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """Calls, tokens and cost added up (for one model, or all of them)."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    neurons: float = 0.0
    cost_usd: float = 0.0
    #: Calls whose tokens were estimated because Cloudflare did not report them.
    estimated_calls: int = 0
    #: Calls of models the table has no price for (they add nothing to the cost).
    unpriced_calls: int = 0
    #: False once a call's cost was a lower bound (a quantity its price needs was unknown).
    complete: bool = True

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def plus(self, usage: Usage) -> UsageTotals:
        """These totals with one more call."""
        unpriced = usage.cost_usd is None and usage.neurons is None
        return UsageTotals(
            calls=self.calls + 1,
            input_tokens=self.input_tokens + usage.prompt_tokens,
            output_tokens=self.output_tokens + usage.completion_tokens,
            neurons=self.neurons + (usage.neurons or 0.0),
            cost_usd=self.cost_usd + (usage.cost_usd or 0.0),
            estimated_calls=self.estimated_calls + int(usage.estimated),
            unpriced_calls=self.unpriced_calls + int(unpriced),
            complete=self.complete and usage.complete,
        )


class UsageTracker:
    """Totals of the calls made while it is active, per model and overall, and an optional
    budget in neurons and/or USD. Use as a (sync or async) context manager, or through
    :func:`track_usage`; one tracker may be active in several threads or tasks at once."""

    def __init__(
        self, *, budget_neurons: float | None = None, budget_usd: float | None = None
    ) -> None:
        for name, value in (("budget_neurons", budget_neurons), ("budget_usd", budget_usd)):
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
        self.budget_neurons = budget_neurons
        self.budget_usd = budget_usd
        self._lock = threading.Lock()
        self._total = UsageTotals()
        self._by_model: dict[str, UsageTotals] = {}
        self._held = Cost(0.0, 0.0)  # estimates of calls in flight
        self._tokens: list[Token[tuple[UsageTracker, ...]]] = []

    # --- reading ------------------------------------------------------------------------------
    @property
    def total(self) -> UsageTotals:
        """Every call so far, all models together."""
        with self._lock:
            return self._total

    @property
    def by_model(self) -> dict[str, UsageTotals]:
        """Every call so far, per model (a copy)."""
        with self._lock:
            return dict(self._by_model)

    @property
    def remaining_neurons(self) -> float | None:
        """What the neuron budget has left (None without one); calls in flight not counted."""
        if self.budget_neurons is None:
            return None
        return self.budget_neurons - self.total.neurons

    @property
    def remaining_usd(self) -> float | None:
        if self.budget_usd is None:
            return None
        return self.budget_usd - self.total.cost_usd

    def __repr__(self) -> str:
        total = self.total
        budget = ""
        if self.budget_neurons is not None:
            budget += f", budget_neurons={self.budget_neurons}"
        if self.budget_usd is not None:
            budget += f", budget_usd={self.budget_usd}"
        return (
            f"UsageTracker(calls={total.calls}, tokens={total.total_tokens}, "
            f"neurons={total.neurons:.2f}, cost_usd={total.cost_usd:.6f}{budget})"
        )

    # --- recording ----------------------------------------------------------------------------
    def record(self, model: str, usage: Usage) -> None:
        """Add one finished call."""
        with self._lock:
            self._total = self._total.plus(usage)
            self._by_model[model] = self._by_model.get(model, UsageTotals()).plus(usage)

    def hold(self, model: str, estimate: Cost | None) -> None:
        """Set ``estimate`` aside for a call about to be sent, or raise
        :class:`BudgetExceededError` when it does not fit the budget."""
        cost = estimate or Cost(0.0, 0.0)
        with self._lock:
            spent = Cost(self._total.neurons, self._total.cost_usd) + self._held
            over_neurons = (
                self.budget_neurons is not None
                and spent.neurons + cost.neurons > self.budget_neurons
            )
            over_usd = self.budget_usd is not None and spent.usd + cost.usd > self.budget_usd
            if over_neurons or over_usd:
                raise self._refusal(model, cost, spent)
            self._held = self._held + cost

    def release(self, estimate: Cost | None) -> None:
        """Give back what :meth:`hold` set aside (the call finished or failed)."""
        if estimate is None:
            return
        with self._lock:
            self._held = Cost(
                max(self._held.neurons - estimate.neurons, 0.0),
                max(self._held.usd - estimate.usd, 0.0),
            )

    def _refusal(self, model: str, cost: Cost, spent: Cost) -> BudgetExceededError:
        budgets = []
        if self.budget_neurons is not None:
            budgets.append(f"{self.budget_neurons:,.2f} neurons")
        if self.budget_usd is not None:
            budgets.append(f"${self.budget_usd:.6f}")
        message = (
            f"usage budget exceeded: {model} would cost about {cost.neurons:,.2f} neurons "
            f"(${cost.usd:.6f}); {spent.neurons:,.2f} neurons (${spent.usd:.6f}) are spent or "
            f"in flight, against a budget of {' and '.join(budgets)}; the call was not sent "
            f"({self._total.calls} calls finished before it)"
        )
        return BudgetExceededError(
            message,
            model=model,
            estimate_neurons=cost.neurons,
            estimate_usd=cost.usd,
            budget_neurons=self.budget_neurons,
            budget_usd=self.budget_usd,
            usage=self._total,
            by_model=self._by_model,
        )

    # --- activation ---------------------------------------------------------------------------
    def __enter__(self) -> Self:
        self._tokens.append(activate(self))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        deactivate(self._tokens.pop())

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class TrackerFigures:
    """The figures of a :attr:`tracker` under the names callback handlers use (LangChain's
    ``get_openai_callback`` handler, say): mixed into the framework adapters' handlers."""

    tracker: UsageTracker

    @property
    def total(self) -> UsageTotals:
        return self.tracker.total

    @property
    def by_model(self) -> dict[str, UsageTotals]:
        return self.tracker.by_model

    @property
    def prompt_tokens(self) -> int:
        return self.total.input_tokens

    @property
    def completion_tokens(self) -> int:
        return self.total.output_tokens

    @property
    def total_tokens(self) -> int:
        return self.total.total_tokens

    @property
    def successful_requests(self) -> int:
        return self.total.calls

    @property
    def total_cost(self) -> float:
        """USD, from the model table's prices."""
        return self.total.cost_usd

    @property
    def neurons(self) -> float:
        return self.total.neurons

    def __repr__(self) -> str:
        total = self.total
        return (
            f"Tokens Used: {total.total_tokens}\n\tPrompt Tokens: {total.input_tokens}\n"
            f"\tCompletion Tokens: {total.output_tokens}\n"
            f"Successful Requests: {total.calls}\n"
            f"Neurons: {total.neurons:.4f}\nTotal Cost (USD): ${total.cost_usd:.8f}"
        )


def activate(tracker: UsageTracker) -> Token[tuple[UsageTracker, ...]]:
    """Make ``tracker`` record the calls of the current context (beside those already
    active); undo with :func:`deactivate` in the same context."""
    current = _active.get()
    if tracker in current:  # already recording here (a handler's trace inside its own block)
        return _active.set(current)
    return _active.set((*current, tracker))


def deactivate(token: Token[tuple[UsageTracker, ...]]) -> None:
    _active.reset(token)


def active_trackers() -> tuple[UsageTracker, ...]:
    """The trackers recording calls made here, outermost first."""
    return _active.get()


@contextmanager
def track_usage(
    *, budget_neurons: float | None = None, budget_usd: float | None = None
) -> Iterator[UsageTracker]:
    """Track the Workers AI calls made inside the block (see the module docstring); works in
    ``with`` from sync and async code alike."""
    with UsageTracker(budget_neurons=budget_neurons, budget_usd=budget_usd) as tracker:
        yield tracker


class MeteredCall:
    """One call's bookkeeping: the trackers active where it was made, the estimate it holds
    against their budgets while in flight, and its recording once its usage is known."""

    def __init__(self, model: str, estimate: Callable[[], Cost | None]) -> None:
        self.model = model
        self.trackers = active_trackers()
        # Estimating costs a pass over the input: done only when a budget needs it.
        budgeted = any(
            t.budget_neurons is not None or t.budget_usd is not None for t in self.trackers
        )
        self.estimate = estimate() if budgeted else None
        self._held: list[UsageTracker] = []
        self._done = False

    def check(self) -> None:
        """Raise :class:`BudgetExceededError` if the call would not fit now (holds nothing)."""
        for tracker in self.trackers:
            tracker.hold(self.model, self.estimate)
            tracker.release(self.estimate)

    def hold(self) -> Self:
        """Hold the estimate against every tracker's budget (all or none)."""
        try:
            for tracker in self.trackers:
                tracker.hold(self.model, self.estimate)
                self._held.append(tracker)
        except BudgetExceededError:
            self.cancel()
            raise
        return self

    def finish(self, usage: Usage | None) -> None:
        """Record the call's usage (once) and give its estimate back."""
        if self._done:
            return
        self._done = True
        for tracker in self._held:
            tracker.release(self.estimate)
        self._held = []
        if usage is not None:
            for tracker in self.trackers:
                tracker.record(self.model, usage)

    def cancel(self) -> None:
        """The call failed or was refused: give the estimate back, record nothing."""
        for tracker in self._held:
            tracker.release(self.estimate)
        self._held = []
        self._done = True

    def __enter__(self) -> Self:
        return self.hold()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._done:
            self.cancel()


__all__ = [
    "MeteredCall",
    "TrackerFigures",
    "UsageTotals",
    "UsageTracker",
    "activate",
    "active_trackers",
    "deactivate",
    "track_usage",
]
