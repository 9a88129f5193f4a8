"""End to end, capture: the `productlane-slack` process against loopback Slack and
Productlane. Screenshots and documents are copied into Productlane and shown in the body; what cannot
be copied stays a link with a note; a kill -9 between upload and create uploads nothing twice; a
whole thread can be sent."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.slack.ids import EDIT_DETAILS_ACTION, MESSAGE_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack, load_fixture, make_channel
from tests.pace import TEST_LEASE_SECONDS
from tests.running_bot import (
    World,
    bot_environment,
    by_field,
    connected_bot,
    fresh_fakes,
    interact,
    opened_view,
    outbox_settled,
    since,
    start_bot,
    submit,
    wait_until,
)

# One worker runs this module, so its bot (a module fixture) starts once, not once per worker.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180), pytest.mark.xdist_group("test_capture_e2e")]

PRODUCTLANE_SCOPES = ("threads:read", "threads:write", "files:write")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
PDF = b"%PDF-1.4\n" + b"0" * 4096 + b"\n%%EOF\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("bot")
    with FakeSlack() as slack, FakeProductlane(scopes=PRODUCTLANE_SCOPES) as productlane:
        env = bot_environment(slack, productlane, home / "outbox.db")
        with connected_bot(slack, productlane, env, home) as world:
            yield world
    secrets = (slack.bot_token, slack.app_token, productlane.api_key)
    assert not [secret for secret in secrets if secret in world.log_text()]


@pytest.fixture(autouse=True)
def fresh(world: World) -> Iterator[None]:
    """Each test finds the shared fakes as the module set them up (running_bot.fresh_fakes)."""
    with fresh_fakes(world.slack, world.productlane):
        yield


def message_with_files(slack: FakeSlack, ts: str) -> dict[str, Any]:
    """The fixture's message with six files, the first four served by the fake Slack."""
    message: dict[str, Any] = load_fixture("message_with_files")
    message.pop("_note")
    contents = {"F0IMG00001": PNG, "F0PDF00002": PDF, "F0SVG00003": b"<svg/>", "F0MP400004": b"-"}
    message["files"] = [
        slack.web.add_file(file, contents[file["id"]]) if file["id"] in contents else file
        for file in message["files"]
    ]
    message["ts"] = ts
    return message


def send_message(world: World, message: dict[str, Any], values: dict[str, Any] | None = None) -> float:
    mark = time.monotonic()
    payload = world.slack.message_shortcut_payload(MESSAGE_SHORTCUT, message=message)
    interact(world, payload)
    ack = submit(world, opened_view(world, mark, refreshed=True), values or {})
    assert not ack.get("payload"), ack
    return mark


def reply_to(world: World, mark: float, thread_ts: str, channel: str = "C0FEEDBACK") -> dict[str, Any]:
    call = world.slack.web.wait_for_call(
        "chat.postMessage",
        timeout=30,
        predicate=lambda c: (
            since(mark)(c) and c.params.get("channel") == channel and c.params.get("thread_ts") == thread_ts
        ),
    )
    return call.params


def thread_titled(productlane: FakeProductlane, text: str) -> dict[str, Any]:
    return next(t for t in productlane.threads if text in t["text"])


# --- files -------------------------------------------------------------------------------------


def test_a_screenshot_and_a_pdf_are_copied_the_rest_stay_links_with_notes(world: World) -> None:
    slack, productlane = world.slack, world.productlane
    message = message_with_files(slack, "1764260001.000100")
    mark = send_message(world, message)
    reply = reply_to(world, mark, "1764260001.000100")

    body = productlane.requests_to("POST", "/threads")[-1].json["text"]
    png, pdf = productlane.uploads[-2:]
    assert (png["name"], png["content_type"]) == ("export-error.png", "image/png")
    assert (pdf["name"], pdf["content_type"]) == ("invoice-march.pdf", "application/pdf")
    assert productlane.uploaded_bytes(png["id"]) == PNG
    assert productlane.uploaded_bytes(pdf["id"]) == PDF
    # The screenshot shows inline, the PDF is linked by name: both at Productlane's copies.
    assert f'<img src="{png["url"]}">' in body
    assert f'<a href="{pdf["url"]}" rel="noopener noreferrer">invoice-march.pdf</a>' in body
    # The rest stay links to Slack, each with why.
    assert "diagram.svg</a> (kept in Slack: Productlane does not accept SVG files)" in body
    assert (
        "screen-recording.mp4</a> (kept in Slack: Productlane does not accept MP4 files, "
        "and 12.0 MB is over its 10.0 MB limit)"
    ) in body
    assert "(kept in Slack: Slack would not let the bot read it (file_not_found)" in body
    assert "(kept in Slack: it was deleted in Slack)" in body
    # Nothing large or refused was fetched for nothing, and the bot token went with each download.
    # (Counted from this test's mark: the module's other tests send the same files to the same bot.)
    downloads = [download for download in slack.web.downloads if download.time >= mark]
    assert [d.file_id for d in downloads if d.file_id == "F0IMG00001"] == ["F0IMG00001"]
    assert [d.file_id for d in downloads if d.file_id == "F0PDF00002"] == ["F0PDF00002"]
    assert not [d for d in downloads if d.file_id in ("F0SVG00003", "F0MP400004")]
    # The submitter hears what stayed in Slack.
    notes = str(reply["blocks"])
    assert "Kept as links to Slack" in notes
    assert "diagram.svg" in notes


def test_without_files_write_the_feedback_still_goes_with_links(world: World) -> None:
    slack, productlane = world.slack, world.productlane
    productlane.set_scopes(("threads:read", "threads:write"))
    try:
        message = message_with_files(slack, "1764260002.000100")
        message["files"] = message["files"][:1]
        uploads_before = len(productlane.uploads)
        mark = send_message(world, message)
        reply_to(world, mark, "1764260002.000100")
    finally:
        productlane.set_scopes(PRODUCTLANE_SCOPES)
    body = productlane.requests_to("POST", "/threads")[-1].json["text"]
    assert "export-error.png</a> (kept in Slack: the bot's Productlane key may not upload files" in body
    assert len(productlane.uploads) == uploads_before
    assert "files:write" in world.log_text()


def test_an_answer_without_a_url_leaves_the_file_a_link_and_the_thread_is_created(world: World) -> None:
    slack, productlane = world.slack, world.productlane
    productlane.upload_answer = lambda stored: {"id": stored["id"]}
    try:
        message = message_with_files(slack, "1764260003.000100")
        message["files"] = message["files"][1:2]
        mark = send_message(world, message)
        reply_to(world, mark, "1764260003.000100")
    finally:
        productlane.upload_answer = None
    body = productlane.requests_to("POST", "/threads")[-1].json["text"]
    assert "invoice-march.pdf</a> (kept in Slack: Productlane's answer held no link to the copy)" in body


def test_files_pointing_at_slacks_web_api_are_not_fetched_with_the_token(world: World) -> None:
    """A file object's URL is the sharer's to choose: ones naming Web API methods must not call them
    as the bot (the member list uploaded as 'the file', a message posted as the bot)."""
    slack, productlane = world.slack, world.productlane
    api = slack.api_url.rstrip("/")
    said = "posted-by-a-file-url"

    def file_at(file_id: str, name: str, url: str, **changes: Any) -> dict[str, Any]:
        return {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": "image/png",
            "filetype": "png",
            "pretty_type": "PNG",
            "size": 100,
            "mode": "hosted",
            "is_external": False,
            "url_private": url,
            "url_private_download": url,
            "permalink": f"https://acme.slack.com/files/U0CUST0003/{file_id}/{name}",
            **changes,
        }

    served = slack.web.add_file(
        {**load_fixture("message_with_files")["files"][1], "id": "F0NOMIME08", "name": "no-type.pdf"}, PDF
    )
    message = {
        "type": "message",
        "user": "U0CUST0003",
        "ts": "1764260004.000100",
        "text": "Here are the screenshots",
        "files": [
            file_at("F0APIUSERS", "members.png", f"{api}/users.list"),
            file_at("F0APIPOST1", "post.png", f"{api}/chat.postMessage?channel=C0FEEDBACK&text={said}"),
            file_at(
                "F0REMOTE01",
                "remote.png",
                f"{api.removesuffix('/api')}/files-pri/T0ACME0001-F0REMOTE01/remote.png",
                mode="external",
                is_external=True,
                external_type="app",
            ),
            {**served, "mimetype": "", "filetype": "pdf"},
        ],
    }
    uploads_before = len(productlane.uploads)
    mark = send_message(world, message)
    reply = reply_to(world, mark, "1764260004.000100")

    assert not [c for c in slack.web.calls("users.list") if since(mark)(c)]
    assert not [c for c in slack.web.calls() if said in str(c.params) or said in c.path]
    assert not [d for d in slack.web.downloads if d.file_id in ("F0REMOTE01", "F0NOMIME08")]
    assert len(productlane.uploads) == uploads_before
    body = thread_titled(productlane, "Here are the screenshots")["text"]
    assert "members.png</a> (kept in Slack: its download link is not a Slack file link)" in body
    assert "post.png</a> (kept in Slack: its download link is not a Slack file link)" in body
    assert "remote.png</a> (kept in Slack: it is a remote file, not stored in Slack)" in body
    assert "no-type.pdf</a> (kept in Slack: Slack declared its type as nothing" in body
    assert "Kept as links to Slack" in str(reply["blocks"])


# --- the whole thread --------------------------------------------------------------------------


def post_thread(slack: FakeSlack, channel: str, parent_ts: str, replies: int) -> list[str]:
    """A parent and `replies` replies by two people, with a bot and a join message in between.
    Returns the people's texts in order."""
    base = float(parent_ts)
    texts = ["Export to CSV times out for big workspaces"]
    slack.web.add_message(
        channel,
        {
            "type": "message",
            "user": "U0CUST0003",
            "ts": parent_ts,
            "thread_ts": parent_ts,
            "text": texts[0],
            "reply_count": replies,
        },
    )
    for index in range(1, replies + 1):
        ts = f"{base + index:.6f}"
        if index == 5:
            slack.web.add_message(
                channel,
                {
                    "type": "message",
                    "subtype": "bot_message",
                    "bot_id": "B0OTHER001",
                    "username": "statusbot",
                    "ts": f"{base + index - 0.5:.6f}",
                    "thread_ts": parent_ts,
                    "text": "Incident 42 resolved",
                },
            )
        if index == 9:
            slack.web.add_message(
                channel,
                {
                    "type": "message",
                    "subtype": "channel_join",
                    "user": "U0NEW00009",
                    "ts": f"{base + index - 0.5:.6f}",
                    "thread_ts": parent_ts,
                    "text": "<@U0NEW00009> has joined",
                },
            )
        author = "U0CSM0002" if index % 2 else "U0CUST0003"
        text = f"Reply number {index:02d} from {author}"
        slack.web.add_message(
            channel,
            {"type": "message", "user": author, "ts": ts, "thread_ts": parent_ts, "text": text},
        )
        texts.append(text)
    return texts


def test_a_thread_of_30_replies_with_include_ticked_sends_every_persons_message_in_order(
    world: World,
) -> None:
    slack, productlane = world.slack, world.productlane
    parent_ts = "1764270000.000100"
    texts = post_thread(slack, "C0FEEDBACK", parent_ts, 30)
    slack.web.replies_page_max = 7  # five pages
    mark = time.monotonic()
    parent = next(m for m in slack.web.messages["C0FEEDBACK"] if m["ts"] == parent_ts)
    interact(world, slack.message_shortcut_payload(MESSAGE_SHORTCUT, message=parent))
    view = opened_view(world, mark, refreshed=True)
    option = by_field(view)["include_thread"]["element"]["options"][0]
    assert option["text"]["text"] == "Include the whole thread (31 messages)"
    assert "initial_options" not in by_field(view)["include_thread"]["element"]  # off by default
    submit(world, view, {"include_thread": ["include"]})
    reply_to(world, mark, parent_ts)

    body = thread_titled(productlane, "Reply number 30")["text"]
    positions = [body.index(text) for text in texts]
    assert positions == sorted(positions), "every message, in order"
    assert "Incident 42 resolved" not in body
    assert "has joined" not in body
    assert "<strong>➤ @jane</strong>" in body  # the message pointed at, marked
    assert "the message this feedback was sent from" in body
    assert "@dana" in body
    pages = [
        c
        for c in slack.web.calls("conversations.replies")
        if since(mark)(c) and c.params.get("limit") == "200"
    ]
    assert len(pages) == 5
    assert [bool(c.params.get("cursor")) for c in pages] == [False, True, True, True, True]


def test_a_reply_offers_the_thread_with_its_size_looked_up(world: World) -> None:
    slack = world.slack
    parent_ts = "1764280000.000100"
    post_thread(slack, "C0FEEDBACK", parent_ts, 3)
    reply = next(
        m
        for m in slack.web.messages["C0FEEDBACK"]
        if m.get("text") == "Reply number 02 from U0CUST0003" and m["thread_ts"] == parent_ts
    )
    mark = time.monotonic()
    interact(world, slack.message_shortcut_payload(MESSAGE_SHORTCUT, message=reply))
    view = opened_view(world, mark, refreshed=True)
    option = by_field(view)["include_thread"]["element"]["options"][0]
    assert option["text"]["text"] == "Include the whole thread (4 messages)"
    submit(world, view, {"include_thread": ["include"]})
    reply_to(world, mark, parent_ts)
    body = thread_titled(world.productlane, "Reply number 03")["text"]
    assert "<strong>➤ @jane</strong>" in body
    assert body.index("Export to CSV") < body.index("Reply number 02") < body.index("Reply number 03")


def test_a_thread_slack_will_not_show_sends_the_message_with_a_note_and_tells_the_submitter(
    world: World,
) -> None:
    slack = world.slack
    slack.web.channels["G0PRIVATE9"] = make_channel("G0PRIVATE9", "secret", is_private=True, is_member=False)
    message = {
        "type": "message",
        "user": "U0CUST0003",
        "ts": "1764290000.000100",
        "thread_ts": "1764290000.000100",
        "reply_count": 2,
        "text": "Private complaint",
    }
    mark = time.monotonic()
    payload = slack.message_shortcut_payload(MESSAGE_SHORTCUT, message=message, channel="G0PRIVATE9")
    interact(world, payload)
    view = opened_view(world, mark, refreshed=True)
    submit(world, view, {"include_thread": ["include"]})
    confirmation = slack.web.wait_for_call(
        "chat.postMessage",
        timeout=30,
        predicate=lambda c: since(mark)(c) and "Sent to Productlane" in str(c.params.get("text")),
    )
    body = thread_titled(world.productlane, "Private complaint")["text"]
    assert "Only this message is here, not its Slack thread: the bot cannot see this conversation" in body
    assert "Only the message was sent, not the whole thread" in str(confirmation.params["blocks"])


# --- restart safety ------------------------------------------------------------------------------


def recorded_copies(database: Path) -> int:
    """How many file outcomes the bot has recorded with its outbox items (read from its database)."""
    if not database.exists():
        return 0
    with contextlib.closing(sqlite3.connect(database, timeout=5)) as connection:
        try:
            return int(connection.execute("SELECT count(*) FROM outbox_copied_files").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def test_kill_9_between_upload_and_create_uploads_nothing_twice(tmp_path: Path) -> None:
    with FakeSlack() as slack, FakeProductlane(scopes=PRODUCTLANE_SCOPES) as productlane:
        env = bot_environment(slack, productlane, tmp_path / "outbox.db")
        env["DELIVERY_LEASE_SECONDS"] = str(TEST_LEASE_SECONDS)
        first = start_bot(slack, productlane, env, tmp_path, tmp_path / "first.log")
        try:
            wait_until(lambda: "connected to Slack" in first.log_text(), "the bot to connect", timeout=30)
            message = message_with_files(slack, "1764300000.000100")
            message["files"] = message["files"][:2]
            # The create gets no answer until the bot is dead, and then never reaches Productlane.
            productlane.hold(method="POST", path="/threads")
            send_message(first, message)
            # Both uploads are recorded, and the create is on its way.
            wait_until(
                lambda: recorded_copies(tmp_path / "outbox.db") == 2, "both copies recorded", timeout=30
            )
            wait_until(lambda: productlane.post_count == 1, "the create to be sent")
        finally:
            first.bot.send_signal(signal.SIGKILL)
            first.bot.wait(timeout=10)
            productlane.release(drop=True)
        assert len(productlane.uploads) == 2
        assert productlane.created_count == 0, "the kill came after the create: it proves nothing"

        second = start_bot(slack, productlane, env, tmp_path, tmp_path / "second.log")
        try:
            wait_until(lambda: len(productlane.threads) >= 1, "the thread", timeout=60)
            wait_until(
                lambda: any(
                    c.params.get("thread_ts") == "1764300000.000100"
                    for c in slack.web.calls("chat.postMessage")
                ),
                "the confirmation",
                timeout=30,
            )
            outbox_settled(tmp_path / "outbox.db")  # nothing left that could upload or create again
        finally:
            second.bot.send_signal(signal.SIGTERM)
            second.bot.wait(timeout=30)
        assert len(productlane.uploads) == 2, "no file uploaded twice"
        assert len(productlane.threads) == 1, "one thread"
        body = productlane.threads[0]["text"]
        assert all(upload["url"] in body for upload in productlane.uploads)
        assert len(slack.web.downloaded("F0IMG00001")) == 1


# --- an emoji files it -------------------------------------------------------------------------


def react(world: World, ts: str, user: str, **options: Any) -> dict[str, Any]:
    return interact(world, world.slack.reaction_added_payload(ts, user=user, **options), kind="events_api")


def post_customer_message(slack: FakeSlack, ts: str, text: str, channel: str = "C0FEEDBACK") -> None:
    slack.web.add_message(channel, {"type": "message", "user": "U0CUST0003", "ts": ts, "text": text})


def thread_replies(world: World, ts: str) -> list[Any]:
    return [c for c in world.slack.web.calls("chat.postMessage") if c.params.get("thread_ts") == ts]


def ephemerals_to(world: World, user: str, mark: float) -> list[Any]:
    return [
        c
        for c in world.slack.web.calls("chat.postEphemeral")
        if since(mark)(c) and c.params.get("user") == user
    ]


def test_a_reaction_by_two_people_gives_one_thread_and_one_reply(world: World) -> None:
    slack, productlane = world.slack, world.productlane
    ts = "1764310000.000100"
    post_customer_message(slack, ts, "Dark mode please\nOur team works at night")
    mark = time.monotonic()
    react(world, ts, "U0CSM0002")
    react(world, ts, "U0CSM0002")  # Slack sending the same person's event again
    reply = reply_to(world, mark, ts)
    react(world, ts, "U0CSM0001")
    wait_until(lambda: ephemerals_to(world, "U0CSM0001", mark), "the second person to hear")
    outbox_settled(world.log.parent / "outbox.db")  # nothing left that could file it twice

    filed = [t for t in productlane.threads if "Dark mode please" in t["text"]]
    assert len(filed) == 1
    thread = filed[0]
    assert thread["title"] == "Dark mode please"
    assert thread["contact"]["email"] == "jane@customer.example"
    assert thread["pain_level"] == "UNKNOWN"
    assert len(thread_replies(world, ts)) == 1
    assert "Sent to Productlane by <@U0CSM0002>" in reply["text"]
    assert "Edit details" in str(reply["blocks"])
    (told,) = ephemerals_to(world, "U0CSM0001", mark)
    assert "Already in Productlane" in told.params["text"]
    assert thread["id"] in told.params["text"]
    # The first person hears nothing privately about it (an earlier test of the module may still
    # tell them about another message: only this message's thread counts).
    about_it = (thread["id"], ts, "Dark mode please")
    assert not [
        e for e in ephemerals_to(world, "U0CSM0002", mark) if any(m in str(e.params) for m in about_it)
    ]


def test_a_reaction_still_files_the_message_when_slack_rate_limits_reading_it(world: World) -> None:
    slack, productlane = world.slack, world.productlane
    ts = "1764315000.000100"
    post_customer_message(slack, ts, "Bulk archive for old threads")
    busy = {"ok": False, "error": "ratelimited"}
    slack.web.respond("conversations.history", busy, status=429, headers={"Retry-After": "1"}, times=1)
    mark = time.monotonic()
    react(world, ts, "U0CSM0002")
    reply = reply_to(world, mark, ts)

    assert "Sent to Productlane by <@U0CSM0002>" in reply["text"]
    assert [t["title"] for t in productlane.threads if "Bulk archive" in t["text"]] == [
        "Bulk archive for old threads"
    ]
    reads = [c for c in slack.web.calls("conversations.history") if since(mark)(c)]
    assert len(reads) == 2
    assert reads[1].time - reads[0].time >= 0.9, "Slack's Retry-After is honoured"


def test_a_reaction_slack_will_not_let_the_bot_read_is_answered_not_dropped(world: World) -> None:
    slack, productlane = world.slack, world.productlane
    ts = "1764316000.000100"
    post_customer_message(slack, ts, "Slack is down today")
    down = {"ok": False, "error": "internal_error"}
    # Slack asks for a short wait each time (the bot honours what it asks: the test needs no longer).
    slack.web.respond("conversations.history", down, status=503, headers={"Retry-After": "0.1"}, times=3)
    mark = time.monotonic()
    react(world, ts, "U0CSM0002")
    wait_until(lambda: ephemerals_to(world, "U0CSM0002", mark), "the person who reacted to hear")

    (told,) = ephemerals_to(world, "U0CSM0002", mark)
    assert "Slack wouldn't show it to me just now" in told.params["text"]
    assert "Send to Productlane" in told.params["text"]
    assert not [t for t in productlane.threads if "Slack is down today" in t["text"]]


def test_edit_details_changes_the_thread_and_refreshes_the_reply(world: World) -> None:
    slack, productlane = world.slack, world.productlane
    ts = "1764320000.000100"
    post_customer_message(slack, ts, "Exports are slow")
    mark = time.monotonic()
    react(world, ts, "U0CSM0002")
    reply_to(world, mark, ts)
    posted = next(c for c in thread_replies(world, ts))
    message = {"ts": posted.response["ts"], "text": posted.params["text"], "blocks": posted.params["blocks"]}

    pressed = time.monotonic()
    interact(world, slack.block_actions_payload(EDIT_DETAILS_ACTION, message=message, channel="C0FEEDBACK"))
    view = opened_view(world, pressed)
    assert view["title"]["text"] == "Edit details"
    assert set(by_field(view)) >= {"title", "pain_level"}
    assert "contact_email" not in by_field(view)
    assert by_field(view)["title"]["element"]["initial_value"] == "Exports are slow"
    ack = submit(world, view, {"title": "CSV exports take minutes", "pain_level": "HIGH"})
    assert not ack.get("payload"), ack

    updated = slack.web.wait_for_call("chat.update", timeout=30, predicate=since(pressed))
    thread = next(t for t in productlane.threads if "Exports are slow" in t["text"])
    patch = productlane.requests_to("PATCH", f"/threads/{thread['id']}")[-1]
    assert patch.json == {"title": "CSV exports take minutes", "pain_level": "HIGH"}
    assert (thread["title"], thread["pain_level"]) == ("CSV exports take minutes", "HIGH")
    assert updated.params["channel"] == "C0FEEDBACK"
    assert updated.params["ts"] == posted.response["ts"]
    refreshed = str(updated.params["blocks"])
    assert "CSV exports take minutes" in refreshed
    assert "Pain level: High" in refreshed
    assert "Details edited by <@U0CSM0002>" in refreshed
    assert "Edit details" in refreshed

    again = time.monotonic()
    interact(world, slack.block_actions_payload(EDIT_DETAILS_ACTION, message=message, channel="C0FEEDBACK"))
    reopened = opened_view(world, again)
    assert by_field(reopened)["title"]["element"]["initial_value"] == "CSV exports take minutes"
    assert by_field(reopened)["pain_level"]["element"]["initial_option"]["value"] == "HIGH"


def test_someone_from_another_organization_cannot_edit_details(world: World) -> None:
    slack = world.slack
    ts = "1764330000.000100"
    post_customer_message(slack, ts, "Please add SSO")
    mark = time.monotonic()
    react(world, ts, "U0CSM0002")
    reply_to(world, mark, ts)
    posted = thread_replies(world, ts)[0]
    message = {"ts": posted.response["ts"], "text": posted.params["text"], "blocks": posted.params["blocks"]}
    outsider = {"id": "U0CUST0003", "username": "jane", "name": "jane", "team_id": "T0CUSTOMER"}
    pressed = time.monotonic()
    interact(
        world,
        slack.block_actions_payload(
            EDIT_DETAILS_ACTION, message=message, channel="C0FEEDBACK", user=outsider
        ),
    )
    told = slack.web.wait_for_call("chat.postEphemeral", timeout=15, predicate=since(pressed))
    assert "Only people in this workspace" in told.params["text"]
    assert not [c for c in slack.web.calls("views.open") if since(pressed)(c)]


def test_the_emoji_on_what_cannot_be_filed_tells_the_person_why_and_other_emoji_stay_quiet(
    world: World,
) -> None:
    slack, productlane = world.slack, world.productlane
    # An earlier test's feedback, still being delivered on a busy machine, would be confirmed
    # (a direct message) after this test's mark and look like a reply to these reactions.
    outbox_settled(world.log.parent / "outbox.db")
    slack.web.channels["G0PRIVATE7"] = make_channel("G0PRIVATE7", "hidden", is_private=True, is_member=False)
    post_customer_message(slack, "1764340000.000100", "Another emoji")
    post_customer_message(slack, "1764340001.000100", "In a room the bot is not in", channel="G0PRIVATE7")
    slack.web.add_message(
        "C0FEEDBACK",
        {
            "type": "message",
            "user": "U0BOT00001",
            "bot_id": "B0BOT00001",
            "ts": "1764340002.000100",
            "text": "Mine",
        },
    )
    slack.web.add_message(
        "C0FEEDBACK",
        {
            "type": "message",
            "subtype": "channel_join",
            "user": "U0NEW00009",
            "ts": "1764340003.000100",
            "text": "<@U0NEW00009> has joined the channel",
        },
    )
    mark = time.monotonic()
    before = len(productlane.threads)
    react(world, "1764340000.000100", "U0CSM0002", reaction="tada")
    react(world, "1764340001.000100", "U0CSM0002", channel="G0PRIVATE7")
    react(world, "1764340002.000100", "U0CSM0002", item_user="U0BOT00001")
    react(world, "1764340003.000100", "U0CSM0002", item_user="U0NEW00009")
    react(world, "1764340004.000100", "U0CSM0002")  # deleted before Slack's event arrived

    def told() -> list[str]:
        landed = [
            call
            for call in slack.web.calls("chat.postEphemeral") + slack.web.calls("chat.postMessage")
            if since(mark)(call) and call.response.get("ok")
        ]
        in_channel = [
            c for c in landed if c.method == "chat.postEphemeral" and c.params.get("user") == "U0CSM0002"
        ]
        direct = [c for c in landed if str(c.params.get("channel", "")).startswith("D")]
        return [str(call.params["text"]) for call in in_channel + direct]

    answers = (
        "I'm not in that channel, so I can't read its messages",
        "That's one of my own messages",
        "That's a message Slack wrote itself",
        "I can't find it any more",
    )
    wait_until(
        lambda: all(answer in "\n".join(told()) for answer in answers),
        "the person who reacted to hear about each of the four",
    )
    words = "\n".join(told())
    # The bot cannot post in a channel it is not in: that answer comes by DM.
    assert "I'm not in that channel, so I can't read its messages" in words
    assert "That's one of my own messages" in words
    assert "That's a message Slack wrote itself" in words
    assert "I can't find it any more" in words
    assert len(told()) == 4  # nothing about the other emoji
    assert len(productlane.threads) == before


def test_a_reaction_on_a_message_sent_by_the_shortcut_says_where_it_is(world: World) -> None:
    slack = world.slack
    ts = "1764350000.000100"
    post_customer_message(slack, ts, "Bulk edit would save us hours")
    message = next(m for m in slack.web.messages["C0FEEDBACK"] if m["ts"] == ts)
    mark = send_message(world, message)
    reply_to(world, mark, ts)
    thread = next(t for t in world.productlane.threads if "Bulk edit" in t["text"])
    reacted = time.monotonic()
    react(world, ts, "U0CSM0001")
    wait_until(lambda: ephemerals_to(world, "U0CSM0001", reacted), "the notice")
    (told,) = ephemerals_to(world, "U0CSM0001", reacted)
    assert (
        f"Already in Productlane: <https://productlane.test/feedback/{thread['id']}|the thread>"
        in (told.params["text"])
    )
    assert len([t for t in world.productlane.threads if "Bulk edit" in t["text"]]) == 1
