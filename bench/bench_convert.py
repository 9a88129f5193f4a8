"""How long the converters take: `uv run python -m bench.bench_convert`.

message_to_html on a large message: 40,000 characters in 2,000 rich_text elements (styled text,
links, mentions, emoji, nested and continued lists), about as much as Slack lets one message hold.
Goal: median < 20 ms.

html_to_mrkdwn (a team member's reply from Productlane → Slack) on hostile replies of 1 MiB each:
unclosed tags ("<a" repeated), nesting a hundred thousand deep, a tag with tens of thousands of
attributes, unclosed comments, CDATA sections, declarations, processing instructions, end tags
with nothing open, character references; then a normal reply right after. Goal: < 100 ms of CPU
for each hostile reply, and the normal one converted at once. A case still running after
`--cap-seconds` (wall clock) is stopped and shown as over the cap (so the figures of a slow converter
can still be taken).
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from types import FrameType
from typing import Any

from bot.render.html_to_mrkdwn import html_to_mrkdwn
from bot.render.message_html import message_to_html
from bot.render.names import StaticNames
from bot.render.plain_text import message_to_plain_text

TARGET_CHARS = 40_000
TARGET_ELEMENTS = 2_000
GOAL_MS = 20.0
HOSTILE_BYTES = 1024 * 1024
HOSTILE_GOAL_MS = 100.0

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


def _repeat(piece: str, size: int) -> str:
    return piece * (size // len(piece))


def hostile_replies(size: int = HOSTILE_BYTES) -> dict[str, str]:
    """Replies of about ``size`` characters built to make an HTML parser work hard."""
    attributes = " ".join(f'data-a{n}="{n}"' for n in range(size // 18))
    return {
        '"<a" repeated (unclosed tags)': _repeat("<a", size),
        '"<b>x" repeated (nesting)': _repeat("<b>x", size),
        '"<ul><li>x" repeated (nested lists)': _repeat("<ul><li>x", size),
        "one tag, many attributes": f"<p {attributes}>hi</p>",
        '"<!--" repeated (unclosed comments)': _repeat("<!--", size),
        '"<![CDATA[" repeated': _repeat("<![CDATA[", size),
        '"<!x" repeated (declarations)': _repeat("<!x", size),
        '"<?" repeated (processing instructions)': _repeat("<?", size),
        '"</" repeated (end tags, unclosed)': _repeat("</", size),
        '"</b>" repeated (nothing open)': _repeat("</b>", size),
        '"<b>" then "</i>" (end tags, nothing matching)': _repeat("<b>", size // 2)
        + _repeat("</i>", size // 2),
        '"&#" repeated (character references)': _repeat("&#", size),
        '"<a href="" unclosed quote': '<a href="' + _repeat("x", size),
        "<script> never closed": "<script>" + _repeat("<p>x", size),
        "text of 1 MiB in one paragraph": "<p>" + _repeat("word ", size) + "</p>",
    }


NORMAL_REPLY = (
    "<p>Hi Jane, <strong>good news</strong>: SAML is on the "
    '<a href="https://acme.test/roadmap">roadmap</a>.</p>'
    "<ul><li>Okta first</li><li>then Azure AD<ul><li>and Google</li></ul></li></ul>"
    "<p>Thanks for your patience!</p>"
)


class _OverCap(BaseException):
    """Raised in the converter when a case has run past its cap (a BaseException: the converter's
    own safety net catches Exception, and must not turn the cap into a fallback)."""


@contextmanager
def _capped(seconds: float) -> Iterator[None]:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise _OverCap

    # A wall-clock timer, not ITIMER_PROF: a profiling timer running skews the process CPU clock
    # on some kernels (seen in containers), and CPU time is what is measured here.
    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _cpu_ms(convert: Callable[[], str], cap_seconds: float) -> tuple[float | None, str]:
    """CPU milliseconds one conversion took (None: over the cap), and what it gave."""
    started = time.process_time()
    try:
        with _capped(cap_seconds):
            out = convert()
    except _OverCap:
        return None, ""
    return (time.process_time() - started) * 1000, out


def bench_html_to_mrkdwn(size: int, cap_seconds: float) -> None:
    html_to_mrkdwn(NORMAL_REPLY)  # warm-up: imports
    print(f"html_to_mrkdwn on hostile replies of {size:,} characters (CPU time; cap {cap_seconds:g} s):")
    worst = 0.0
    for name, html in hostile_replies(size).items():
        spent, out = _cpu_ms(partial(html_to_mrkdwn, html), cap_seconds)
        after, normal = _cpu_ms(partial(html_to_mrkdwn, NORMAL_REPLY), cap_seconds)
        shown = f"{spent:9.1f} ms" if spent is not None else f"  > {cap_seconds * 1000:,.0f} ms"
        worst = max(worst, spent if spent is not None else float("inf"))
        normal_ms = f"{after:.2f} ms" if after is not None and normal else "failed"
        print(f"  {name:48s} {shown} → {len(out):>7,} characters; a normal reply after it: {normal_ms}")
    verdict = "met" if worst < HOSTILE_GOAL_MS else "NOT met"
    print(f"goal: each hostile reply < {HOSTILE_GOAL_MS:.0f} ms of CPU → {verdict}")


def bench_message_to_html(runs: int) -> None:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--hostile-bytes", type=int, default=HOSTILE_BYTES)
    parser.add_argument("--cap-seconds", type=float, default=30.0)
    args = parser.parse_args()
    bench_message_to_html(args.runs)
    bench_html_to_mrkdwn(args.hostile_bytes, args.cap_seconds)


if __name__ == "__main__":
    main()
