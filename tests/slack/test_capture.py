"""The Slack side of capture against the loopback Slack: thread pages, files.info, and downloads
that carry the bot token only to Slack, stop at the size cap, and see through a sign-in page."""

from __future__ import annotations

import ssl
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
from bot.slack.tls import LazyTrustContext
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


def test_downloads_over_plain_http_load_no_trusted_certificates(
    slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Slack client's context is shared, its certificates loaded at the first TLS handshake: a
    # client of httpx's own would load a CA bundle whatever the URL.
    loaded: list[object] = []
    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", lambda *args, **kw: loaded.append(args))
    monkeypatch.setattr(ssl.SSLContext, "load_default_certs", lambda *args, **kw: loaded.append(args))
    client = WebClient(token=slack.bot_token, base_url=slack.api_url, ssl=LazyTrustContext())
    capture = SlackCapture(client, slack.bot_token, slack.api_url)
    try:
        assert capture.download(served(slack, b"\x89PNG-bytes"), 1024) == b"\x89PNG-bytes"
    finally:
        capture.close()
    assert loaded == []


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
    with pytest.raises(FileUnavailable, match="not a Slack file link"):
        capture.download(hosted("F1", "https://evil.example/a.png"), 1024)


def hosted(file_id: str, url: str, **changes: Any) -> SlackFile:
    """A file object as a message could carry it: an upload, its type declared, at ``url``."""
    raw = {
        "id": file_id,
        "name": "shot.png",
        "mimetype": "image/png",
        "filetype": "png",
        "mode": "hosted",
        "is_external": False,
        "url_private_download": url,
        **changes,
    }
    file = slack_file(raw)
    assert file is not None
    return file


def test_links_to_slacks_web_api_are_never_fetched_with_the_token(
    slack: FakeSlack, capture: SlackCapture
) -> None:
    api = slack.api_url.rstrip("/")  # the fake's origin stands in for Slack's file host too
    for url in (
        f"{api}/users.list",
        f"{api}/chat.postMessage?channel=C0FEEDBACK&text=posted+as+the+bot",
        f"{api.removesuffix('/api')}/files-pri/../api/users.list",
        f"{api.removesuffix('/api')}/files-pri/%2e%2e/api/users.list",
        f"{api.removesuffix('/api')}/hooks/actions/T1/1",
    ):
        with pytest.raises(FileUnavailable, match="not a Slack file link"):
            capture.download(hosted("F0API00001", url), 1024)
    assert slack.web.calls() == []
    assert slack.web.downloads == []


def test_remote_files_and_files_without_a_declared_type_are_refused_before_any_request(
    slack: FakeSlack, capture: SlackCapture
) -> None:
    url = served(slack, b"%PDF-1.4").download_url
    assert url is not None
    refused = {
        "a remote file": hosted("F2", url, is_external=True, external_type="gdrive", mode="external"),
        "a remote file (mode only)": hosted("F3", url, mode="external"),
        "a post": hosted("F4", url, mode="post"),
        "no mode": hosted("F5", url, mode=None),
        "no mimetype, a pdf filetype": hosted("F6", url, mimetype="", filetype="pdf"),
        "octet-stream": hosted("F7", url, mimetype="application/octet-stream", filetype="pdf"),
    }
    notes = {}
    for what, file in refused.items():
        with pytest.raises(FileUnavailable) as unavailable:
            capture.download(file, 1 << 20)
        notes[what] = unavailable.value.note
    assert notes["a remote file"] == "it is a remote file, not stored in Slack"
    assert notes["no mode"].startswith("Slack does not hold it as a file")
    assert "declared its type as nothing" in notes["no mimetype, a pdf filetype"]
    assert slack.web.downloads == []
    assert capture.download(hosted("F8", url, mimetype="application/pdf"), 1 << 20) == b"%PDF-1.4"


def test_a_redirect_on_slacks_file_host_is_followed_with_the_token(
    slack: FakeSlack, capture: SlackCapture
) -> None:
    first, second = served(slack, b"old"), served(slack, b"\x89PNG", id="F0IMG00002")
    assert second.download_url is not None
    slack.web.file_redirects[first.id] = second.download_url
    assert capture.download(first, 1024) == b"\x89PNG"
    assert [(d.file_id, d.status, d.token) for d in slack.web.downloads] == [
        (first.id, 302, slack.bot_token),
        (second.id, 200, slack.bot_token),
    ]


def test_a_redirect_off_slacks_file_paths_or_host_is_not_followed(
    slack: FakeSlack, capture: SlackCapture
) -> None:
    file = served(slack, b"png")
    with FakeSlack() as elsewhere:
        for location in (
            "/api/users.list",  # the same origin, the Web API
            f"{slack.api_url}chat.postMessage?channel=C0FEEDBACK&text=hi",
            f"http://127.0.0.1:{elsewhere.web.port}/files-pri/T0ACME0001-{file.id}/download/a.png",
            "https://acme.slack.com/?redir=%2Ffiles-pri%2FT1-F1",
        ):
            slack.web.file_redirects[file.id] = location
            with pytest.raises(FileUnavailable, match="somewhere else"):
                capture.download(file, 1024)
        assert elsewhere.web.calls() == []
        assert elsewhere.web.downloads == []
    assert slack.web.calls() == []
    assert {d.status for d in slack.web.downloads} == {302}


def test_endless_redirects_end(slack: FakeSlack, capture: SlackCapture) -> None:
    file = served(slack, b"png")
    assert file.download_url is not None
    slack.web.file_redirects[file.id] = file.download_url
    with pytest.raises(FileUnavailable, match="redirected the download more than"):
        capture.download(file, 1024)
    assert len(slack.web.downloads) == 4


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
