"""Capture under load: a burst of submissions, each a message with several screenshots, through the
real bot process, against a Productlane that enforces its limits and answers 429 past them.

    uv run python -m bench.bench_capture [--submissions 50] [--images 5] [--image-kib 200]

Each submission's message carries `--images` PNG files of `--image-kib` KiB, served by the fake Slack
only with the bot token. Every file is one upload (30 a minute per key) and one write (60 a minute,
≤ 20 in any 10 s, shared with thread creation); the fake Productlane enforces all three and answers
429 + Retry-After past them. The modals are opened first (setup, not measured), then every
submission is sent at once. Printed: the acks, how long the outbox took to drain against the floor
the limits allow, the most writes and uploads seen in any 60 s (and writes in any 10 s), the 429s,
and whether every file was uploaded exactly once and shown in its thread.
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.bench_ack import bot_environment
from bot.budgets.file_copies import UPLOAD_PACE_PER_MINUTE
from bot.slack.ids import MESSAGE_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack, load_fixture

ENTRY_POINT = Path(sys.executable).parent / "productlane-slack"
WRITES_PER_MINUTE = 60
UPLOADS_PER_MINUTE = 30


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def most_in_window(times: Sequence[float], window: float) -> int:
    """The most events in any `window` seconds (a sliding window over sorted times)."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def message_with_images(
    slack: FakeSlack, index: int, images: int, size: int, rng: random.Random
) -> dict[str, Any]:
    template = load_fixture("message_with_files")["files"][0]
    files = []
    for number in range(images):
        content = b"\x89PNG\r\n\x1a\n" + rng.randbytes(size - 8)
        file_id = f"F{index:04d}{number:05d}"
        file = dict(template, id=file_id, name=f"screen-{index}-{number}.png", size=len(content))
        files.append(slack.web.add_file(file, content))
    return {
        "type": "message",
        "user": "U0CUST0003",
        "ts": f"{1764400000 + index}.000100",
        "team": "T0ACME0001",
        "text": f"Export fails again (report {index}), screenshots attached",
        "files": files,
    }


def open_views(slack: FakeSlack, messages: list[dict[str, Any]]) -> list[str]:
    view_ids = []
    for message in messages:
        before = len(slack.web.calls("views.open"))
        payload = slack.message_shortcut_payload(MESSAGE_SHORTCUT, message=message)
        slack.socket.wait_ack(slack.socket.send_envelope("interactive", payload))
        wait_until(lambda n=before: len(slack.web.calls("views.open")) > n, 10, "views.open")
        view_id = slack.web.calls("views.open")[before].response["view"]["id"]
        wait_until(
            lambda v=view_id: any(c.params.get("view_id") == v for c in slack.web.calls("views.update")),
            10,
            "views.update",
        )
        view_ids.append(view_id)
    return view_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=50)
    parser.add_argument("--images", type=int, default=5, help="screenshots in each message")
    parser.add_argument("--image-kib", type=int, default=200)
    parser.add_argument("--productlane-delay", type=float, default=0.2, help="seconds per write answer")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-capture-"))
    rng = random.Random(10)
    total_files = args.submissions * args.images

    with (
        FakeSlack() as slack,
        FakeProductlane(
            enforce_rate_limit=True, scopes=("threads:read", "threads:write", "files:write")
        ) as pl,
    ):
        pl.delay(args.productlane_delay, method="POST")
        env = bot_environment(slack, pl, f"sqlite:///{home / 'outbox.db'}")
        with (home / "bot.log").open("wb") as log:
            bot = subprocess.Popen(
                [str(ENTRY_POINT)], env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            slack.socket.wait_connected(timeout=30)
            time.sleep(0.5)
            messages = [
                message_with_images(slack, index, args.images, args.image_kib * 1024, rng)
                for index in range(args.submissions)
            ]
            payloads = [
                slack.view_submission_payload(view_id, {"pain_level": {"pain_level": "HIGH"}})
                for view_id in open_views(slack, messages)
            ]
            started_wall = time.time()
            started = time.monotonic()
            envelopes = [slack.socket.send_envelope("interactive", payload) for payload in payloads]
            for envelope in envelopes:
                slack.socket.wait_ack(envelope, timeout=30)
            acks = [slack.socket.ack_latency(envelope) * 1000 for envelope in envelopes]
            wait_until(lambda: pl.created_count >= args.submissions, 3600, "the outbox to drain")
            drained = time.monotonic() - started
            time.sleep(2.0)  # anything that would upload or create again has had time to
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=60)

        writes = [r.time for r in pl.requests if r.method in ("POST", "PATCH") and r.status in (200, 201)]
        uploads = [r.time for r in pl.requests_to("POST", "/files") if r.status == 201]
        threads = pl.threads
        shown = sum(thread["text"].count("<img src=") for thread in threads)
        unique = len({upload["sha256"] for upload in pl.uploads})
        downloads = len([d for d in slack.web.downloads if d.authorised and d.status == 200])

    # Evenly spaced from the first write: N writes need (N - 1) gaps.
    floor = max((len(writes) - 1) * 60 / WRITES_PER_MINUTE, (len(uploads) - 1) * 60 / UPLOADS_PER_MINUTE, 0.0)
    first = min(writes) - started_wall if writes else 0.0
    lines = [
        f"{args.submissions} submissions at once, each a message with {args.images} PNG screenshots "
        f"of {args.image_kib} KiB ({total_files} files); Productlane answers each write in "
        f"{args.productlane_delay} s",
        f"acks: p50 {statistics.median(acks):.1f} ms, p99 {percentile(acks, 0.99):.1f} ms, "
        f"max {max(acks):.1f} ms",
        f"drained in {drained:.1f} s (first write {first:.1f} s after the burst); the limits allow no "
        f"less than {floor:.1f} s for {len(writes)} writes at {WRITES_PER_MINUTE}/min, of which "
        f"{len(uploads)} uploads at {UPLOADS_PER_MINUTE}/min (the bot paces uploads at "
        f"{UPLOAD_PACE_PER_MINUTE}/min: {max(0, len(uploads) - 1) * 60 / UPLOAD_PACE_PER_MINUTE:.1f} s)",
        f"most writes in any 60 s: {most_in_window(writes, 60)} (limit {WRITES_PER_MINUTE}); in any "
        f"10 s: {most_in_window(writes, 10)} (limit 20); most uploads in any 60 s: "
        f"{most_in_window(uploads, 60)} (limit {UPLOADS_PER_MINUTE})",
        f"429 answers from Productlane: {pl.rate_limited_count}",
        f"threads: {len(threads)} of {args.submissions}; uploads: {len(uploads)} ({unique} distinct "
        f"files) of {total_files}; downloads from Slack: {downloads}; pictures shown inline: {shown}",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
