"""The Slack side of capture against the loopback Slack: thread pages, files.info, and downloads
that carry the bot token only to Slack, stop at the size cap, and see through a sign-in page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.feedback.capture import FileUnavailable, SlackFile, TryLater, slack_file
from bot.feedback.form import FeedbackForm
from bot.feedback.source import SourceMessage
from bot.feedback.submission import Submission
from bot.slack.capture import SlackCapture
from tests.fakes.slack import DEFAULT_SCOPES, FakeSlack, load_fixture, make_channel

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def capture(slack: FakeSlack) -> Iterator[SlackCapture]:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    capture = SlackCapture(client, slack.bot_token, slack.api_url)
    yield capture
    capture.close()


def served(slack: FakeSlack, content: bytes, **changes: Any) -> SlackFile:
    raw = dict(load_fixture("message_with_files")["files"][0], **changes)
    file = slack_file(slack.web.add_file(raw, content))
    assert file is not None
    return file


def test_a_download_carries_the_bot_token_and_returns_the_bytes(
    slack: FakeSlack, capture: SlackCapture
) -> None:
    file = served(slack, b"\x89PNG-bytes")
    assert capture.download(file, 1024) == b"\x89PNG-bytes"
    (download,) = slack.web.downloads
    assert download.token == slack.bot_token
    assert download.authorised


def test_a_download_stops_at_the_cap_whatever_slack_said_the_size_was(
    slack: FakeSlack, capture: SlackCapture
) -> None:
    file = served(slack, b"x" * 5000, size=10)
    with pytest.raises(FileUnavailable, match="over Productlane's"):
        capture.download(file, 4096)


def test_slacks_sign_in_page_is_not_taken_for_the_file() -> None:
    scopes = tuple(scope for scope in DEFAULT_SCOPES if scope != "files:read")
    with FakeSlack(scopes=scopes) as slack:
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        capture = SlackCapture(client, slack.bot_token, slack.api_url)
        with pytest.raises(FileUnavailable, match="sign-in page"):
            capture.download(served(slack, b"png"), 1024)
        capture.close()


def test_the_bot_token_goes_only_to_slack_hosts(capture: SlackCapture) -> None:
    assert capture.may_send_token("https://files.slack.com/files-pri/T1-F1/download/a.png")
    assert capture.may_send_token("https://files.slack-gov.com/files-pri/T1-F1/a.png")
    assert not capture.may_send_token("http://files.slack.com/files-pri/T1-F1/a.png")
    assert not capture.may_send_token("https://files.slack.com.evil.example/a.png")
    assert not capture.may_send_token("https://evil.example/?files.slack.com")
    with pytest.raises(FileUnavailable, match="not on Slack"):
        capture.download(SlackFile(id="F1", download_url="https://evil.example/a.png"), 1024)


def test_a_file_slack_no_longer_has_is_unavailable(slack: FakeSlack, capture: SlackCapture) -> None:
    file = served(slack, b"png")
    slack.web.file_contents.pop(file.id)
    with pytest.raises(FileUnavailable, match="no longer has it"):
        capture.download(file, 1024)


def test_files_info_tells_a_hidden_file_or_why_not(slack: FakeSlack, capture: SlackCapture) -> None:
    shown = served(slack, b"png")
    assert capture.resolve(SlackFile(id=shown.id, hidden=True)).name == "export-error.png"
    with pytest.raises(FileUnavailable, match="file_not_found"):
        capture.resolve(SlackFile(id="F0EXT00005", hidden=True))
    slack.web.respond(
        "files.info", {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "3"}
    )
    with pytest.raises(TryLater) as later:
        capture.resolve(SlackFile(id=shown.id, hidden=True))
    assert later.value.retry_after == 3


def submission(source: SourceMessage, include_thread: bool = True) -> Submission:
    return Submission(
        key="V1",
        submitter_id="U0CSM0002",
        form=FeedbackForm(contact_email="jane@customer.example", include_thread=include_thread),
        source=source,
        submitted_at=datetime.now(UTC),
    )


def fixture_thread(slack: FakeSlack, channel: str = "C0FEEDBACK") -> list[dict[str, Any]]:
    pages = load_fixture("conversations_replies")
    messages = [*pages["page_1"]["messages"], *pages["page_2"]["messages"]]
    for message in messages:
        slack.web.add_message(channel, message)
    return messages


def source_at(ts: str, channel: str = "C0FEEDBACK", thread_ts: str = "1764252900.000100") -> SourceMessage:
    return SourceMessage(
        workspace_team_id="T0ACME0001",
        channel_id=channel,
        ts=ts,
        thread_ts=thread_ts,
        author_id="U0CUST0003",
        content={"text": "x"},
    )


def test_the_whole_thread_is_read_page_by_page(slack: FakeSlack, capture: SlackCapture) -> None:
    messages = fixture_thread(slack)
    slack.web.replies_page_max = 2
    gathered = capture.gather(submission(source_at("1764253100.000300")))
    assert gathered.thread is not None
    assert [m["ts"] for m in gathered.thread] == [m["ts"] for m in messages]
    assert gathered.thread_problem is None
    assert len(slack.web.calls("conversations.replies")) == 3


def test_without_include_only_the_message_and_its_files(slack: FakeSlack, capture: SlackCapture) -> None:
    fixture_thread(slack)
    source = source_at("1764252900.000100").model_copy(
        update={"content": {"text": "x", "files": [{"id": "F1", "name": "a.png"}]}}
    )
    gathered = capture.gather(submission(source, include_thread=False))
    assert gathered.thread is None
    assert [file.id for file in gathered.files] == ["F1"]
    assert slack.web.calls("conversations.replies") == []


def test_a_thread_the_bot_cannot_read_is_a_problem_in_words_not_a_failure(
    slack: FakeSlack, capture: SlackCapture
) -> None:
    slack.web.channels["C0PUBLIC02"] = make_channel("C0PUBLIC02", "general", is_member=False)
    gathered = capture.gather(submission(source_at("1764252900.000100", channel="C0PUBLIC02")))
    assert gathered.thread is None
    assert gathered.thread_problem is not None
    assert gathered.thread_problem.startswith("the bot is not in this channel")


def test_slack_rate_limiting_the_thread_means_try_later(slack: FakeSlack, capture: SlackCapture) -> None:
    fixture_thread(slack)
    slack.web.respond(
        "conversations.replies",
        {"ok": False, "error": "ratelimited"},
        status=429,
        headers={"Retry-After": "30"},
    )
    with pytest.raises(TryLater) as later:
        capture.gather(submission(source_at("1764252900.000100")))
    assert later.value.retry_after == 30
