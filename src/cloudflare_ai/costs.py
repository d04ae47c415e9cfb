"""What a Workers AI call costs, in neurons (the unit Cloudflare bills) and in USD.

Prices come from the bundled model table (:attr:`ModelInfo.prices`): the USD prices of each
model's catalog file and, for older models, the neuron rates of Cloudflare's pricing page
(``cloudflare-api.md`` §1.15). Cloudflare charges $0.011 per 1,000 neurons, after a free
allocation of 10,000 neurons a day that resets at 00:00 UTC. One rate converts between the two
currencies, so a model priced only in USD still has a neuron figure and the other way round.

A call is described by :class:`Units`, the quantities its prices are stated in (tokens,
characters, tiles, steps, audio seconds, images, requests); :func:`cost_of` multiplies them by
the model's prices. Every price of a model applies at once (an image model pays per tile *and*
per step), and a price whose quantity the call did not report counts as zero of it, which
:attr:`Cost.complete` records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Final

from .models import USD_PER_NEURON, ModelInfo, ModelPrice, get_model

#: Neurons every account may use per day without charge (Free and Paid plans alike).
FREE_NEURONS_PER_DAY: Final = 10_000
#: Side of the square tile image models are priced by.
TILE_SIDE: Final = 512


@dataclass(frozen=True, slots=True)
class Units:
    """The quantities of one call, in the units Cloudflare prices models by."""

    input_tokens: int = 0
    output_tokens: int = 0
    #: Prompt tokens served from the provider's prompt cache; part of ``input_tokens``.
    cached_input_tokens: int = 0
    #: Characters of text spoken by a text-to-speech model.
    characters: int = 0
    #: 512x512 tiles of the images produced (see :func:`tiles`).
    output_tiles: int = 0
    #: 512x512 tiles of the images given as input (image-to-image, FLUX.2).
    input_tiles: int = 0
    #: Diffusion steps of an image model.
    steps: int = 0
    #: Seconds of audio transcribed or produced.
    audio_seconds: float = 0.0
    #: Images classified.
    images: int = 0
    #: Inference requests (one per call).
    requests: int = 1

    def __add__(self, other: Units) -> Units:
        return Units(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


@dataclass(frozen=True, slots=True)
class Cost:
    """The cost of one call (or a sum of calls)."""

    neurons: float
    usd: float
    #: False when the model has a price in a unit the call did not report (that part counted
    #: as zero), so the figures are a lower bound.
    complete: bool = True

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.neurons + other.neurons, self.usd + other.usd, self.complete and other.complete
        )


ZERO: Final = Cost(0.0, 0.0)


def tiles(width: int, height: int) -> int:
    """Number of 512x512 tiles covering a ``width`` by ``height`` image (partial tiles count).

    UNCERTAIN: Cloudflare's pricing pages say "per 512 by 512 tile" without saying how a size
    that is not a multiple of 512 is rounded; whole tiles per side, rounded up, is assumed."""
    if width <= 0 or height <= 0:
        return 0
    return math.ceil(width / TILE_SIDE) * math.ceil(height / TILE_SIDE)


def _quantity(unit: str, units: Units) -> float | None:
    """How many of ``unit`` a call used, or None for a unit this module does not know."""
    uncached = max(units.input_tokens - units.cached_input_tokens, 0)
    match unit:
        case "per M input tokens":
            return uncached / 1_000_000
        case "per M output tokens":
            return units.output_tokens / 1_000_000
        case "per M cached input tokens":
            return units.cached_input_tokens / 1_000_000
        case "per 1k characters":
            return units.characters / 1000
        case "per 512 by 512 tile":
            return units.output_tiles
        case "per step":
            return units.steps
        case "per input 512x512 tile, per step":
            return units.input_tiles * units.steps
        case "per output 512x512 tile, per step":
            return units.output_tiles * units.steps
        case "per audio minute":
            return units.audio_seconds / 60
        case "per M images":
            return units.images / 1_000_000
        case "per inference request":
            return units.requests
    return None


def _reported(unit: str, units: Units) -> bool:
    """Whether the call reported the quantity ``unit`` needs (zero tokens is a real answer;
    zero steps or tiles on an image model means they were not known)."""
    if unit in ("per 512 by 512 tile", "per output 512x512 tile, per step"):
        return units.output_tiles > 0 and (unit == "per 512 by 512 tile" or units.steps > 0)
    if unit == "per step":
        return units.steps > 0
    if unit == "per audio minute":
        return units.audio_seconds > 0
    return True


def priced(info: ModelInfo | None) -> bool:
    """Whether the table has any price for the model."""
    return info is not None and bool(info.prices)


def _by_unit(prices: tuple[ModelPrice, ...]) -> dict[str, tuple[float | None, float | None]]:
    """unit -> (USD price, neuron price); a model may state either or both."""
    out: dict[str, tuple[float | None, float | None]] = {}
    for price in prices:
        usd, neurons = out.get(price.unit, (None, None))
        if price.currency == "USD":
            usd = price.price
        elif price.currency == "neurons":
            neurons = price.price
        out[price.unit] = (usd, neurons)
    return out


def _one_price_twice(
    by_unit: dict[str, tuple[float | None, float | None]],
) -> dict[str, tuple[float | None, float | None]]:
    """Fold a per-request price into a per-image price of the other currency: one price stated
    twice. resnet-50's catalog says $2.51e-06 per inference request and the pricing page
    228,055 neurons per M images, which is $2.51e-06 per image at $0.011 per 1,000 neurons: a
    classifier takes one image per request, so adding both would count the call twice.
    UNCERTAIN: assumed for any model stating both units in different currencies."""
    images, request = by_unit.get("per M images"), by_unit.get("per inference request")
    if images is None or request is None:
        return by_unit
    (img_usd, img_neurons), (req_usd, req_neurons) = images, request
    if (img_usd is None) == (req_usd is None) or (img_neurons is None) == (req_neurons is None):
        return by_unit  # both in the same currency: two real prices
    out = {unit: prices for unit, prices in by_unit.items() if unit != "per inference request"}
    out["per M images"] = (
        img_usd if img_usd is not None else (req_usd or 0.0) * 1_000_000,
        img_neurons if img_neurons is not None else (req_neurons or 0.0) * 1_000_000,
    )
    return out


def cost_of(model: str | ModelInfo, units: Units) -> Cost | None:
    """The cost of a call of ``model`` that used ``units``, or None when the model table has
    no price for the model (an unknown model, or one Cloudflare publishes no price for).

    Where a unit has both a USD price and a neuron rate, each currency comes from its own
    figure (they agree to within Cloudflare's rounding); otherwise one is converted from the
    other at $0.011 per 1,000 neurons."""
    info = get_model(model) if isinstance(model, str) else model
    if info is None or not info.prices:
        return None
    if units.cached_input_tokens and not any(
        p.unit == "per M cached input tokens" for p in info.prices
    ):
        # No discount published: cached tokens are input tokens like the others. UNCERTAIN:
        # Cloudflare does not say how it bills prefix-cache hits of such models.
        units = replace(units, cached_input_tokens=0)
    neurons = usd = 0.0
    complete = True
    for unit, (usd_price, neuron_price) in _one_price_twice(_by_unit(info.prices)).items():
        quantity = _quantity(unit, units)
        if quantity is None:
            complete = False
            continue
        if not _reported(unit, units):
            complete = False
        unit_neurons = (
            neuron_price if neuron_price is not None else (usd_price or 0.0) / USD_PER_NEURON
        )
        unit_usd = usd_price if usd_price is not None else (neuron_price or 0.0) * USD_PER_NEURON
        neurons += quantity * unit_neurons
        usd += quantity * unit_usd
    return Cost(neurons=neurons, usd=usd, complete=complete)


def neurons_to_usd(neurons: float) -> float:
    """USD billed for ``neurons`` beyond the free allocation is ``neurons_to_usd(n)``."""
    return neurons * USD_PER_NEURON


def usd_to_neurons(usd: float) -> float:
    return usd / USD_PER_NEURON


__all__ = [
    "FREE_NEURONS_PER_DAY",
    "TILE_SIDE",
    "ZERO",
    "Cost",
    "Units",
    "cost_of",
    "neurons_to_usd",
    "priced",
    "tiles",
    "usd_to_neurons",
]
