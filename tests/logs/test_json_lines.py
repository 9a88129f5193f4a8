"""LOG_FORMAT=json: one JSON object a line with the time, level, logger and message, and the outbox
item and Productlane request an entry is about where known — nothing else of the record."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bot.logs import configure_logging, outbox_item
from bot.logs.json_lines import JsonLines


@contextmanager
def logging_to(stream: io.StringIO, log_format: str = "text") -> Iterator[None]:
    """The bot's logging set up for the test, the test runner's put back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in ("slack_sdk", "httpx")}
    configure_logging("INFO", log_format, stream=stream)
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, was in quiet.items():
            logging.getLogger(name).setLevel(was)


def entries(run: Callable[[], None]) -> list[dict[str, object]]:
    stream = io.StringIO()
    with logging_to(stream, "json"):
        run()
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_entry_is_one_json_line_with_its_context() -> None:
    log = logging.getLogger("bot.delivery.worker")

    def run() -> None:
        log.info("plain")
        with outbox_item(42):
            log.info("item %s delivered as thread %s", 42, "th_1")
            logging.getLogger("bot.productlane.client").info(
                "productlane POST /api/v2/threads -> 201",
                extra={"productlane_request_id": "req_1", "productlane_status": 201, "token": "xoxb-secret"},
            )
        log.warning("two\nlines")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("it failed")

    plain, delivered, answered, two, failed = entries(run)
    assert set(plain) == {"time", "level", "logger", "message", "thread"}
    assert str(plain["time"]).endswith("Z")
    assert (plain["level"], plain["logger"], plain["message"]) == ("INFO", "bot.delivery.worker", "plain")
    assert delivered["outbox_item_id"] == 42
    assert delivered["message"] == "item 42 delivered as thread th_1"
    assert answered["productlane_request_id"] == "req_1"
    assert answered["productlane_status"] == 201
    assert answered["outbox_item_id"] == 42
    assert "token" not in answered, "only the fields named are copied from a record"
    assert "outbox_item_id" not in two
    assert two["message"] == "two\nlines"
    assert "ValueError: boom" in str(failed["exception"])


def test_each_thread_has_its_own_item() -> None:
    seen: dict[str, object] = {}
    formatter = JsonLines()

    def sender(item_id: int) -> None:
        with outbox_item(item_id):
            record = logging.LogRecord("w", logging.INFO, __file__, 1, "m", None, None)
            seen[str(item_id)] = json.loads(formatter.format(record)).get("outbox_item_id")

    threads = [threading.Thread(target=sender, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"1": 1, "2": 2}


def test_text_stays_the_default() -> None:
    stream = io.StringIO()
    with logging_to(stream):
        logging.getLogger("bot").info("hello")
    assert stream.getvalue().rstrip().endswith("INFO bot: hello")
