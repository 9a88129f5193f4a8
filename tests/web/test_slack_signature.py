"""Slack's signature is checked on the raw bytes, before anything in the request is read: every
shape of header a stranger could send is a refusal with a reason, never an exception."""

from __future__ import annotations

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.web.slack_signature import SlackSignatureProblem, slack_signature, slack_signature_problem

SECRET = "test-signing-secret"
NOW = 1_764_252_900
BODY = b'{"type":"event_callback","event":{"type":"message"}}'
GOOD = slack_signature(SECRET, str(NOW), BODY)


def problem(
    body: bytes = BODY, timestamp: str | None = str(NOW), signature: str | None = GOOD, secret: str = SECRET
) -> SlackSignatureProblem | None:
    return slack_signature_problem(body, timestamp, signature, secret, now=NOW)


def test_slacks_own_signature_passes() -> None:
    expected = SignatureVerifier(SECRET).generate_signature(timestamp=str(NOW), body=BODY)
    assert expected == GOOD
    assert problem() is None
    assert slack_signature_problem(BODY, str(NOW), GOOD, SECRET, now=NOW + 299) is None


@pytest.mark.parametrize(
    "timestamp", [None, "", " ", "soon", "-1", "1.5", "١٢٣", "9" * 13, "9" * 4000, f"{NOW}\n{NOW}"]
)
def test_a_timestamp_that_is_not_plain_unix_seconds_is_refused(timestamp: str | None) -> None:
    assert problem(timestamp=timestamp) is SlackSignatureProblem.TIMESTAMP


@pytest.mark.parametrize(
    "signature",
    [None, "", "v0=", "v0=00", GOOD.upper(), GOOD[3:], "v1=" + GOOD[3:], "v0=" + "é" * 64, GOOD + "0"],
)
def test_a_signature_not_of_slacks_shape_is_refused(signature: str | None) -> None:
    assert problem(signature=signature) is SlackSignatureProblem.SIGNATURE


def test_a_forged_or_stale_request_is_refused_and_told_apart() -> None:
    assert problem(signature=slack_signature("guessed", str(NOW), BODY)) is SlackSignatureProblem.MISMATCH
    assert problem(body=BODY + b" ") is SlackSignatureProblem.MISMATCH
    stale = str(NOW - 301)
    assert (
        problem(timestamp=stale, signature=slack_signature(SECRET, stale, BODY))
        is SlackSignatureProblem.STALE
    )


def test_bytes_that_are_not_utf8_are_checked_as_bytes() -> None:
    body = b"\xff\xfe{"
    assert problem(body=body, signature=slack_signature(SECRET, str(NOW), body)) is None
    assert problem(body=body) is SlackSignatureProblem.MISMATCH


def test_without_a_secret_nothing_passes() -> None:
    assert problem(secret="") is SlackSignatureProblem.NO_SECRET
    assert (
        problem(secret="", signature=slack_signature("", str(NOW), BODY)) is SlackSignatureProblem.NO_SECRET
    )
