"""`productlane-slack outbox`: what an operator sees, and re-queuing failed items."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.budgets.key_pause import KeyPause
from bot.commands.outbox import run_outbox_command
from bot.delivery.outbox import Status
from bot.settings import Settings
from tests.databases import outbox_at

PAYLOAD = {
    "submitter_id": "U0CSM0002",
    "form": {"title": "Export to CSV times out"},
    "source": {
        "channel_id": "C0FEEDBACK",
        "ts": "1764252900.000100",
        "content": {"text": "the customer's private words"},
    },
}


def settings(database: Path) -> Settings:
    return Settings(
        _env_file=None,
        slack_bot_token="xoxb-x",
        slack_app_token="xapp-x",
        productlane_api_key="pl_v2_x",
        database_url=f"sqlite:///{database}",
    )


def run(database: Path, **options: object) -> tuple[int, str]:
    lines: list[str] = []
    defaults: dict[str, object] = {
        "retry_id": None,
        "retry_failed": False,
        "include_delivered": False,
        "show_text": False,
    }
    defaults.update(options)
    status = run_outbox_command(settings(database), echo=lines.append, **defaults)  # type: ignore[arg-type]
    return status, "\n".join(lines)


def failed_item(database: Path) -> int:
    with outbox_at(f"sqlite:///{database}") as outbox:
        item_id = outbox.add("V1:h", "create_thread", PAYLOAD).id
        outbox.claim("worker", 1, 30)
        outbox.mark_failed(item_id, "worker", "Productlane refused: contact_email Invalid email")
        return item_id


def test_the_listing_shows_failed_items_without_message_bodies(tmp_path: Path) -> None:
    database = tmp_path / "outbox.db"
    item_id = failed_item(database)
    status, output = run(database)
    assert status == 0
    assert "failed: 1" in output
    assert f"{item_id}  failed" in output
    assert "C0FEEDBACK/1764252900.000100" in output
    assert "Invalid email" in output
    assert "private words" not in output
    _, shown = run(database, show_text=True)
    assert "private words" in shown
    assert "Export to CSV times out" in shown


def test_retry_requeues_one_item_or_every_failed_one(tmp_path: Path) -> None:
    database = tmp_path / "outbox.db"
    item_id = failed_item(database)
    assert run(database, retry_id=str(item_id)) == (0, f"re-queued {item_id}")
    with outbox_at(f"sqlite:///{database}") as outbox:
        assert outbox.counts()[Status.PENDING] == 1
        outbox.claim("worker", 1, 30)
        outbox.mark_failed(item_id, "worker", "again")
    assert run(database, retry_failed=True) == (0, "re-queued 1 failed item(s)")


def test_retrying_an_unknown_item_says_so(tmp_path: Path) -> None:
    status, output = run(tmp_path / "outbox.db", retry_id="999")
    assert status == 1
    assert "no pending or failed item 999" in output


def test_a_superseded_item_is_never_requeued_and_the_operator_is_told_why(tmp_path: Path) -> None:
    database = tmp_path / "outbox.db"
    item_id = failed_item(database)
    with outbox_at(f"sqlite:///{database}") as outbox:
        copy = outbox.add("V2:h", "create_thread", PAYLOAD, supersedes=item_id).id
    status, output = run(database, retry_id=str(item_id))
    assert status == 1
    assert f"{item_id} was replaced by {copy} (Edit and resend)" in output
    assert run(database, retry_failed=True) == (
        0,
        "re-queued 0 failed item(s); 1 superseded by an edited resend left alone",
    )
    _, listing = run(database, include_delivered=True)
    assert "superseded: 1" in listing
    assert f"superseded by {copy}" in listing


def test_the_listing_says_when_delivery_is_paused_for_the_key(tmp_path: Path) -> None:
    database = tmp_path / "outbox.db"
    with outbox_at(f"sqlite:///{database}") as outbox:
        outbox.add("V1:h", "create_thread", PAYLOAD)
        KeyPause(outbox.database).record_key_problem(
            "productlane:T1",
            "unauthenticated",
            "Productlane refused the API key (unauthenticated: …): create a v2 API key.",
            probe_at=datetime.now(UTC),
        )
    status, output = run(database)
    assert status == 0
    assert output.startswith("Delivery is paused: Productlane refused the API key (unauthenticated")
    assert "`retry` is not needed" in output
