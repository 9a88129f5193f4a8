"""The bot token goes with a download only to Slack's file hosts, over https, on file paths; the
files downloaded at all are ones Slack stores, with a type that passes on its own."""

from __future__ import annotations

from typing import Any

import pytest

from bot.feedback.capture import SlackFile, slack_file
from bot.slack.file_urls import download_refusal, token_rule

SLACK = token_rule("https://slack.com/api/")
GOV = token_rule("https://slack-gov.com/api/")
FAKE = token_rule("http://127.0.0.1:8123/api/")


@pytest.mark.parametrize(
    "url",
    [
        "https://files.slack.com/files-pri/T1-F1/download/a.png",
        "https://files.slack.com/files-pri/T1-F1/r%C3%A9sum%C3%A9.pdf",
        "https://files.slack.com/files-tmb/T1-F1-0a1b/a_360.png",
        "https://files.slack-gov.com/files-pri/T1-F1/a.png",
    ],
)
def test_slacks_file_links_get_the_token(url: str) -> None:
    assert SLACK.allows(url)


@pytest.mark.parametrize(
    "url",
    [
        # not https
        "http://files.slack.com/files-pri/T1-F1/a.png",
        # userinfo and backslash tricks: parsers disagree on where the host is
        "https://evil.com\\@files.slack.com/files-pri/T1-F1/a.png",
        "https://evil.com@files.slack.com/files-pri/T1-F1/a.png",
        "https://files.slack.com@evil.com/files-pri/T1-F1/a.png",
        "https://files.slack.com\\@evil.com/files-pri/T1-F1/a.png",
        "https://files.slack.com\\files-pri/T1-F1/a.png",
        "https://files.slack.com/files-pri\\..\\api/users.list",
        "https://files.slack.com/files-pri/T1-F1/a b.png",
        "https://files.slack.com/files-pri/T1-F1/a.png\n",
        "https://files.slack.com\t/files-pri/T1-F1/a.png",
        "https://files.slаck.com/files-pri/T1-F1/a.png",  # a Cyrillic а
        # a port, another host that only looks like Slack's
        "https://files.slack.com:8443/files-pri/T1-F1/a.png",
        "https://files.slack.com.evil.example/files-pri/T1-F1/a.png",
        "https://evil.example/files-pri/T1-F1/a.png?files.slack.com",
        # Slack, but not a file host: the Web API, a workspace, incoming webhooks
        "https://slack.com/api/users.list",
        "https://slack.com/files-pri/T1-F1/a.png",
        "https://api.slack.com/files-pri/T1-F1/a.png",
        "https://acme.slack.com/files-pri/T1-F1/a.png",
        "https://acme.enterprise.slack.com/files-pri/T1-F1/a.png",
        "https://hooks.slack.com/services/T1/B1/xyz",
        "https://hooks.slack.com/files-pri/T1-F1/a.png",
        "https://slack-gov.com/api/users.list",
        # a file host, but not a file path
        "https://files.slack.com/api/users.list",
        "https://files.slack.com/api/chat.postMessage?channel=C1&text=hi",
        "https://files.slack.com/files-pri/../api/users.list",
        "https://files.slack.com/files-pri/./../api/users.list",
        "https://files.slack.com/files-pri/%2e%2e/api/users.list",
        "https://files.slack.com/files-pri/%2E%2E%2Fapi%2Fusers.list",
        "https://files.slack.com/files-pri%2f..%2fapi/users.list",
        "https://files.slack.com/files-private/T1-F1/a.png",
        "https://files.slack.com/",
        "https://files.slack.com",
        "https://files.slack.com/files-pri/T1-F1/a.png#x",
        # not a URL at all
        "",
        "files.slack.com/files-pri/T1-F1/a.png",
        "//files.slack.com/files-pri/T1-F1/a.png",
        "javascript:alert(1)",
    ],
)
def test_anything_else_does_not(url: str) -> None:
    assert not SLACK.allows(url)
    assert not GOV.allows(url)
    assert not FAKE.allows(url)


def test_a_stand_in_for_slack_is_allowed_for_file_paths_only() -> None:
    assert FAKE.allows("http://127.0.0.1:8123/files-pri/T1-F1/download/a.png")
    assert FAKE.allows("https://files.slack.com/files-pri/T1-F1/download/a.png")
    assert not FAKE.allows("http://127.0.0.1:8123/api/users.list")
    assert not FAKE.allows("http://127.0.0.1:8123/api/chat.postMessage?channel=C1&text=hi")
    assert not FAKE.allows("http://127.0.0.1:8123/hooks/actions/T1/1")
    assert not FAKE.allows("http://127.0.0.1:8124/files-pri/T1-F1/a.png")
    assert not FAKE.allows("https://127.0.0.1:8123/files-pri/T1-F1/a.png")
    assert not FAKE.allows("http://evil.com\\@127.0.0.1:8123/files-pri/T1-F1/a.png")


@pytest.mark.parametrize(
    "api_url",
    [
        "https://slack.com/api/",
        "https://slack-gov.com/api/",
        "https://api.slack.com/api/",
        "http://slack.com/api",
    ],
)
def test_slacks_own_api_host_never_becomes_a_file_host(api_url: str) -> None:
    rule = token_rule(api_url)
    assert {host for _, host in rule.origins} == {"files.slack.com", "files.slack-gov.com"}
    assert not rule.allows("https://slack.com/files-pri/T1-F1/a.png")


def file_object(**changes: Any) -> SlackFile:
    raw = {
        "id": "F1",
        "mimetype": "application/pdf",
        "filetype": "pdf",
        "mode": "hosted",
        "is_external": False,
        "external_type": "",
        **changes,
    }
    file = slack_file(raw)
    assert file is not None
    return file


def test_uploads_and_snippets_slack_stores_are_downloaded() -> None:
    assert download_refusal(file_object()) is None
    assert download_refusal(file_object(mode="snippet", mimetype="text/plain", filetype="python")) is None
    # text/plain passes on its own; Productlane is told it is a csv from Slack's filetype.
    csv = file_object(mimetype="text/plain", filetype="csv")
    assert download_refusal(csv) is None
    assert csv.content_type == "text/csv"


@pytest.mark.parametrize(
    ("changes", "note"),
    [
        ({"is_external": True}, "it is a remote file, not stored in Slack"),
        ({"is_external": "yes"}, "it is a remote file, not stored in Slack"),
        ({"external_type": "gdrive"}, "it is a remote file, not stored in Slack"),
        ({"mode": "external"}, "it is a remote file, not stored in Slack"),
        ({"mode": "post"}, "Slack does not hold it as a file (post)"),
        ({"mode": "hidden_by_limit"}, "Slack does not hold it as a file (hidden_by_limit)"),
        ({"mode": None}, "Slack does not hold it as a file (no mode given)"),
        (
            {"mimetype": ""},
            "Slack declared its type as nothing, which Productlane does not accept",
        ),
        (
            {"mimetype": "application/octet-stream"},
            "Slack declared its type as application/octet-stream, which Productlane does not accept",
        ),
        (
            {"mimetype": None, "filetype": "png"},
            "Slack declared its type as nothing, which Productlane does not accept",
        ),
    ],
)
def test_other_files_are_refused_saying_why(changes: dict[str, Any], note: str) -> None:
    file = file_object(**changes)
    assert download_refusal(file) == note
