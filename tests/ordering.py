"""The order xdist hands the tests out in (conftest's pytest_collection_modifyitems)."""

from __future__ import annotations

from collections.abc import Sequence


def spread(modules: Sequence[str], movable: Sequence[bool]) -> list[int]:
    """A new order (indexes into ``modules``) in which each module's movable tests are spread evenly
    over the places the movable tests held, in their order within the module; the others keep
    their places.

    pytest-randomly keeps a module's tests together, and xdist hands tests out in the order it is
    given: the workers all ran the same module at once. When its tests all wait (on slow clients, a
    Retry-After), every worker waited together and the cores idled. Spread, a module's waits overlap
    other modules' work. Each module starts at the beginning: the end of the run, which no other
    work can fill, is left to the modules with the most tests, whose tests are short."""
    places = [index for index, can_move in enumerate(movable) if can_move]
    by_module: dict[str, list[int]] = {}
    for index in places:
        by_module.setdefault(modules[index], []).append(index)
    spread_out = sorted(
        (position / len(indexes), order, index)
        for order, indexes in enumerate(by_module.values())
        for position, index in enumerate(indexes)
    )
    order = list(range(len(modules)))
    for place, (_share, _module, index) in zip(places, spread_out, strict=True):
        order[place] = index
    return order
