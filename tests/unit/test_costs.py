"""Neuron and USD costs from the model table's prices (cloudflare_ai.costs)."""

from __future__ import annotations

import pytest

from cloudflare_ai.costs import FREE_NEURONS_PER_DAY, Cost, Units, cost_of, tiles
from cloudflare_ai.models import USD_PER_NEURON, iter_models


def test_llama_31_8b_is_priced_in_neurons_and_usd() -> None:
    # The guides' main model states neuron rates only (pricing page): 25608 in, 75147 out per M.
    cost = cost_of("@cf/meta/llama-3.1-8b-instruct", Units(input_tokens=1000, output_tokens=500))
    assert cost is not None and cost.complete
    assert cost.neurons == pytest.approx(25.608 + 37.5735)
    assert cost.usd == pytest.approx(cost.neurons * 0.011 / 1000)


def test_embedding_model_with_both_currencies_uses_each_figure() -> None:
    cost = cost_of("@cf/baai/bge-base-en-v1.5", Units(input_tokens=1_000_000))
    assert cost is not None
    assert cost.usd == pytest.approx(0.067)
    assert cost.neurons == pytest.approx(6058)


def test_usd_only_model_gets_neurons_by_the_published_rate() -> None:
    cost = cost_of("@cf/deepgram/aura-2-en", Units(characters=2000))
    assert cost is not None
    assert cost.usd == pytest.approx(0.06)
    assert cost.neurons == pytest.approx(0.06 / USD_PER_NEURON)


def test_image_model_pays_per_tile_and_per_step() -> None:
    cost = cost_of(
        "@cf/black-forest-labs/flux-1-schnell", Units(output_tiles=tiles(1024, 1024), steps=4)
    )
    assert cost is not None and cost.complete
    assert cost.neurons == pytest.approx(4 * 4.8 + 4 * 9.6)


def test_unreported_quantities_mark_the_cost_incomplete() -> None:
    cost = cost_of("@cf/black-forest-labs/flux-1-schnell", Units())
    assert cost is not None and not cost.complete and cost.neurons == 0


def test_cached_tokens_are_priced_at_the_cached_rate() -> None:
    full = cost_of("@cf/moonshotai/kimi-k2.6", Units(input_tokens=1_000_000))
    cached = cost_of(
        "@cf/moonshotai/kimi-k2.6",
        Units(input_tokens=1_000_000, cached_input_tokens=1_000_000),
    )
    assert full is not None and cached is not None
    assert cached.usd == pytest.approx(0.16)
    assert full.usd > cached.usd


def test_unknown_or_unpriced_model_has_no_cost() -> None:
    assert cost_of("@cf/nobody/nothing", Units(input_tokens=10)) is None
    assert cost_of("@cf/myshell-ai/melotts", Units(characters=10)) is None


def test_tiles_round_each_side_up() -> None:
    assert tiles(512, 512) == 1
    assert tiles(513, 512) == 2
    assert tiles(1024, 768) == 4
    assert tiles(0, 512) == 0


def test_every_price_unit_in_the_table_is_understood() -> None:
    for info in iter_models():
        if info.prices:
            cost = cost_of(
                info,
                Units(
                    input_tokens=1,
                    output_tokens=1,
                    characters=1,
                    output_tiles=1,
                    input_tiles=1,
                    steps=1,
                    audio_seconds=1,
                    images=1,
                ),
            )
            assert cost is not None and cost.complete, info.name


def test_costs_add_up() -> None:
    assert Cost(1, 2) + Cost(3, 4, complete=False) == Cost(4, 6, complete=False)
    assert Units(input_tokens=1) + Units(input_tokens=2, steps=3) == Units(
        input_tokens=3, steps=3, requests=2
    )
    assert FREE_NEURONS_PER_DAY == 10_000
