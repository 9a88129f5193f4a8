"""The fake Slack's capture parts behave as Slack does: files only with the bot token, threads in
pages with the history scope and membership they need, and reactions sent as events_api envelopes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakes.slack import DEFAULT_SCOPES, FakeSlack, load_fixture, make_channel

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.api_url)


def test_a_file_downloads_only_with_the_bot_token(slack: FakeSlack) -> None:
    file = slack.web.add_file(load_fixture("message_with_files")["files"][0], b"png-bytes")
    url = file["url_private_download"]
    assert url.startswith(f"http://127.0.0.1:{slack.web.port}/files-pri/")
    with httpx.Client(verify=url.startswith("https://")) as http:  # http: no CA bundle (~25 ms of CPU)
        with_token = http.get(url, headers={"Authorization": f"Bearer {slack.bot_token}"})
        without = http.get(url)
        wrong = http.get(url, headers={"Authorization": "Bearer xoxb-someone-else"})
    assert (with_token.status_code, with_token.content) == (200, b"png-bytes")
    assert with_token.headers["content-type"] == "image/png"
    assert without.status_code == 200
    assert without.headers["content-type"].startswith("text/html")
    assert b"Sign in" in without.content
    assert b"Sign in" in wrong.content
    assert len(slack.web.downloaded(file["id"])) == 1


def test_files_info_needs_files_read_and_hides_other_organizations_files(
    slack: FakeSlack, client: WebClient
) -> None:
    file = slack.web.add_file(load_fixture("message_with_files")["files"][0], b"x")
    assert client.files_info(file=file["id"])["file"]["name"] == "export-error.png"
    with pytest.raises(SlackApiError) as hidden:
        client.files_info(file="F0EXT00005")
    assert hidden.value.response["error"] == "file_not_found"
    slack.web.scopes = [scope for scope in DEFAULT_SCOPES if scope != "files:read"]
    with pytest.raises(SlackApiError) as scope:
        client.files_info(file=file["id"])
    assert scope.value.response["error"] == "missing_scope"


def test_conversations_replies_pages_through_the_fixture_thread(slack: FakeSlack, client: WebClient) -> None:
    pages = load_fixture("conversations_replies")
    for message in [*pages["page_1"]["messages"], *pages["page_2"]["messages"]]:
        slack.web.add_message("C0FEEDBACK", message)
    first = client.conversations_replies(channel="C0FEEDBACK", ts="1764252900.000100", limit=3)
    assert [m["ts"] for m in first["messages"]] == [m["ts"] for m in pages["page_1"]["messages"]]
    assert first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    second = client.conversations_replies(
        channel="C0FEEDBACK", ts="1764252900.000100", limit=3, cursor=cursor
    )
    assert [m["ts"] for m in second["messages"]] == [m["ts"] for m in pages["page_2"]["messages"]]
    assert second["has_more"] is False
    # A reply's ts gives its whole thread too.
    by_reply = client.conversations_replies(channel="C0FEEDBACK", ts="1764253300.000500", limit=100)
    assert len(by_reply["messages"]) == 6


def test_history_needs_membership_and_the_scope_for_the_channel_type(
    slack: FakeSlack, client: WebClient
) -> None:
    slack.web.channels["C0PUBLIC02"] = make_channel("C0PUBLIC02", "general", is_member=False)
    slack.web.channels["G0PRIVATE3"] = make_channel("G0PRIVATE3", "secret", is_private=True, is_member=False)
    slack.web.add_message("C0FEEDBACK", {"type": "message", "user": "U1", "ts": "1.000100", "text": "hi"})
    found = client.conversations_history(channel="C0FEEDBACK", latest="1.000100", inclusive=True, limit=1)
    assert found["messages"][0]["text"] == "hi"
    for channel, error in (("C0PUBLIC02", "not_in_channel"), ("G0PRIVATE3", "channel_not_found")):
        with pytest.raises(SlackApiError) as refused:
            client.conversations_history(channel=channel)
        assert refused.value.response["error"] == error
    slack.web.scopes = [scope for scope in DEFAULT_SCOPES if scope != "channels:history"]
    with pytest.raises(SlackApiError) as scope:
        client.conversations_replies(channel="C0FEEDBACK", ts="1.000100")
    assert scope.value.response["error"] == "missing_scope"


def test_a_reaction_is_an_events_api_envelope(slack: FakeSlack) -> None:
    payload = slack.reaction_added_payload("1764252900.000100", user="U0CSM0001")
    event = payload["event"]
    assert payload["type"] == "event_callback"
    assert event["type"] == "reaction_added"
    assert event["reaction"] == "inbox_tray"
    assert event["item"] == {"type": "message", "channel": "C0FEEDBACK", "ts": "1764252900.000100"}
    assert event["user"] == "U0CSM0001"
