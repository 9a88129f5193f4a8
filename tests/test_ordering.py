"""How the tests are handed out to xdist's workers (tests/ordering.py)."""

from __future__ import annotations

from tests.ordering import spread


def test_each_modules_tests_are_spread_over_the_run_in_their_own_order() -> None:
    modules = ["a", "a", "a", "a", "b", "b", "c"]
    order = spread(modules, [True] * len(modules))
    assert sorted(order) == list(range(len(modules)))
    assert [modules[index] for index in order] == ["a", "b", "c", "a", "a", "b", "a"]
    assert [index for index in order if modules[index] == "a"] == [0, 1, 2, 3]


def test_tests_that_cannot_move_keep_their_places_and_the_rest_fill_the_others() -> None:
    modules = ["grouped", "grouped", "a", "a", "b", "b"]
    order = spread(modules, [False, False, True, True, True, True])
    assert order == [0, 1, 2, 4, 3, 5]


def test_nothing_to_spread_leaves_the_order_alone() -> None:
    assert spread(["a", "b"], [False, False]) == [0, 1]
    assert spread([], []) == []
