"""How long message_to_html takes on a large message: `uv run python -m bench.bench_convert`.

The message is 40,000 characters in 2,000 rich_text elements (styled text, links, mentions, emoji,
nested and continued lists), about as much as Slack lets one message hold. Goal: median < 20 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from bot.render.message_html import message_to_html
from bot.render.names import StaticNames
from bot.render.plain_text import message_to_plain_text

TARGET_CHARS = 40_000
TARGET_ELEMENTS = 2_000
GOAL_MS = 20.0

_WORDS: tuple[str, ...] = (
    "export",
    "csv",
    "times",
    "out",
    "for",
    "large",
    "workspaces",
    "since",
    "the",
    "release",
)
_WORDS += ("&", "<again>", "please")
_STYLES: list[dict[str, bool]] = [{}, {"bold": True}, {"italic": True}, {"strike": True}]
_STYLES += [{"code": True}, {"bold": True, "italic": True, "underline": True}]
NAMES = StaticNames(
    users={f"U{n:04d}": f"Person {n}" for n in range(50)},
    channels={f"C{n:04d}": f"channel-{n}" for n in range(10)},
)


def _element(rng: random.Random, chars: int) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.08:
        return {"type": "user", "user_id": f"U{rng.randrange(60):04d}"}
    if roll < 0.11:
        return {"type": "channel", "channel_id": f"C{rng.randrange(12):04d}"}
    if roll < 0.16:
        return {"type": "emoji", "name": "pray", "unicode": "1f64f"}
    words = " ".join(rng.choice(_WORDS) for _ in range(chars // 6 + 1))[:chars]
    if roll < 0.26:
        return {"type": "link", "url": f"https://example.com/{rng.randrange(10**6)}", "text": words}
    return {"type": "text", "text": words + " ", "style": rng.choice(_STYLES)}


def build_message(seed: int = 3) -> dict[str, Any]:
    """A message of about TARGET_CHARS characters in exactly TARGET_ELEMENTS inline elements."""
    rng = random.Random(seed)
    # Mentions and emoji are short, so words carry a little more than the average share.
    per_element = TARGET_CHARS * 21 // 20 // TARGET_ELEMENTS
    blocks: list[dict[str, Any]] = []
    made = 0
    while made < TARGET_ELEMENTS:
        # A section of 10 elements, then a list run nesting 0, 1, 2, 1, 0 (ordered and bullet).
        section = [_element(rng, per_element) for _ in range(10)]
        blocks.append({"type": "rich_text_section", "elements": section})
        made += len(section)
        numbered = 0
        for indent in (0, 1, 2, 1, 0):
            items = [
                {"type": "rich_text_section", "elements": [_element(rng, per_element)]} for _ in range(2)
            ]
            made += len(items)
            ordered = indent != 1
            offset = numbered if indent == 0 else 0
            blocks.append(
                {
                    "type": "rich_text_list",
                    "style": "ordered" if ordered else "bullet",
                    "indent": indent,
                    "offset": offset,
                    "elements": items,
                }
            )
            if indent == 0:
                numbered += len(items)
    return {
        "type": "message",
        "text": "fallback",
        "blocks": [{"type": "rich_text", "elements": blocks}],
    }


def message_size(message: dict[str, Any]) -> tuple[int, int]:
    """(characters as a reader sees them, inline elements) of a message from build_message."""
    elements = 0
    for block in message["blocks"][0]["elements"]:
        sections = block["elements"] if block["type"] == "rich_text_list" else [block]
        elements += sum(len(section["elements"]) for section in sections)
    return len(message_to_plain_text(message, NAMES)), elements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    runs = parser.parse_args().runs
    message = build_message()
    chars, elements = message_size(message)
    html = message_to_html(message, NAMES)  # warm-up: caches, imports
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        message_to_html(message, NAMES)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    median = statistics.median(timings)
    p90 = timings[min(len(timings) - 1, int(len(timings) * 0.9))]
    print(f"message: {chars} characters, {elements} elements → {len(html)} characters of HTML")
    print(f"message_to_html over {runs} runs: median {median:.2f} ms, p90 {p90:.2f} ms")
    print(f"goal: median < {GOAL_MS:.0f} ms → {'met' if median < GOAL_MS else 'NOT met'}")


if __name__ == "__main__":
    main()
