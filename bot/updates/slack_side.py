"""Carrying the updates to Slack: chat.update on the confirmation, chat.postMessage in the thread.

Every call ends in one of three outcomes, never an exception: sent; retry (rate limited — after
Slack's Retry-After —, a 5xx, a network failure); or drop, for refusals that retrying cannot fix
(the message or channel is gone, the bot was removed, the channel is archived, …).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.errors import TRANSIENT_ERRORS, retry_after_seconds
from bot.slack.lookups import Audience, SlackLookups
from bot.slack.replies import SlackReply

__all__ = [
    "PERMANENT_ERRORS",
    "SlackOutcome",
    "SlackThreadUpdater",
    "classify_slack_error",
]

log = logging.getLogger(__name__)

# Slack's answers for which the same call can never succeed: drop it with one log line.
PERMANENT_ERRORS = frozenset(
    {
        "message_not_found",
        "channel_not_found",
        "thread_not_found",
        "not_in_channel",
        "is_archived",
        "channel_is_archived",
        "cant_update_message",
        "edit_window_closed",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_arguments",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "ekm_access_denied",
        "team_access_not_granted",
        "missing_scope",
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "org_login_required",
    }
)


# Answers that say "later": Slack's own trouble, or too many calls.
@dataclass(frozen=True)
class SlackOutcome:
    kind: Literal["sent", "retry", "drop"]
    reason: str = ""
    retry_after: float | None = None
    """Seconds Slack asked us to wait (a 429's Retry-After); None when it said nothing."""


SENT = SlackOutcome("sent")


def classify_slack_error(
    status: int | None, error: str | None, retry_after: float | None = None
) -> SlackOutcome:
    """What to do after Slack refused a call. Pure.

    429 or ``ratelimited``: retry after ``retry_after``. 5xx and Slack's transient errors: retry.
    Known permanent errors, and any other refusal (the same call would be refused again): drop.
    """
    code = error or (f"HTTP {status}" if status else "unknown_error")
    if status == 429 or code in ("ratelimited", "rate_limited"):
        return SlackOutcome("retry", "ratelimited", retry_after)
    if (status is not None and status >= 500) or code in TRANSIENT_ERRORS:
        return SlackOutcome("retry", code[:100])
    return SlackOutcome("drop", code[:100])


class SlackThreadUpdater:
    """Edits a confirmation and posts in a thread for the updates worker."""

    def __init__(self, client: WebClient, lookups: SlackLookups | None = None) -> None:
        self._client = client
        self._lookups = lookups or SlackLookups(client)

    def channel_audience(self, channel_id: str) -> Audience:
        """Asked before every post and edit (cached a minute): whether the channel is shared with
        another organization now — UNKNOWN when Slack does not say, which is not the same as
        shared: what cannot be redacted waits for an answer rather than being dropped."""
        return self._lookups.channel_audience(channel_id)

    def update(self, channel_id: str, ts: str, reply: SlackReply) -> SlackOutcome:
        return self._call(
            "chat.update",
            lambda: self._client.chat_update(
                channel=channel_id, ts=ts, text=reply.text, blocks=reply.blocks_json()
            ),
        )

    def post(self, channel_id: str, thread_ts: str | None, text: str) -> SlackOutcome:
        return self._call(
            "chat.postMessage",
            lambda: self._client.chat_postMessage(
                channel=channel_id, thread_ts=thread_ts, text=text, unfurl_links=False, unfurl_media=False
            ),
        )

    def _call(self, method: str, call: Callable[[], Any]) -> SlackOutcome:
        try:
            call()
        except SlackApiError as error:
            response = error.response
            code = response.get("error") if isinstance(response.data, dict) else None
            return classify_slack_error(
                response.status_code, str(code) if code else None, retry_after_seconds(response.headers)
            )
        except OSError as error:  # network: refused, reset, timed out (urllib's errors are OSErrors)
            return SlackOutcome("retry", f"{method}: {type(error).__name__}")
        except Exception as error:  # anything else from the client: never crash the worker
            log.exception("%s failed unexpectedly", method)
            return SlackOutcome("retry", f"{method}: {type(error).__name__}")
        return SENT
