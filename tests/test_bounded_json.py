"""JSON from outside is read with a bound on its nesting: however deep, the answer is a value or a
ValueError, and the walk that measures the depth is iterative (no recursion limit)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import bounded_json
from bot.bounded_json import MAX_DEPTH, UnreadableJSON, nested_deeper_than


def nested(depth: int) -> bytes:
    return b'{"a":' * (depth - 1) + b"[]" + b"}" * (depth - 1)


def test_a_payload_as_deep_as_allowed_is_read() -> None:
    value = bounded_json.loads(nested(MAX_DEPTH))
    assert isinstance(value, dict)
    assert not nested_deeper_than(value, MAX_DEPTH)
    assert nested_deeper_than(value, MAX_DEPTH - 1)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 5_000, 100_000])
def test_deeper_is_refused_as_a_value_error(depth: int) -> None:
    with pytest.raises(UnreadableJSON, match="nested too deeply"):
        bounded_json.loads(nested(depth))
    with pytest.raises(ValueError, match="nested too deeply"):
        bounded_json.loads(b"[" * depth + b"]" * depth)


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe{", b"{not json}", '{"a": NaN'])
def test_what_is_not_json_is_refused_as_a_value_error(raw: bytes | str) -> None:
    with pytest.raises(UnreadableJSON):
        bounded_json.loads(raw)


def test_measuring_a_structure_deeper_than_the_recursion_limit_needs_no_recursion() -> None:
    value: list[object] = []
    for _ in range(50_000):
        value = [value]
    assert nested_deeper_than(value, 49_999)
    assert not nested_deeper_than(value, 50_001)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=30,
)


def depth_of(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


@given(JSON, st.integers(min_value=0, max_value=12))
def test_the_iterative_measure_agrees_with_the_recursive_one(value: object, limit: int) -> None:
    assert nested_deeper_than(value, limit) == (depth_of(value) > limit)
