"""What the bot says back in Slack, and getting it there: the thread, else a DM — never silence.

Rendering is pure (Block Kit models in, nothing sent). `SlackMessenger` posts, with fallbacks for the
places a bot often cannot post (not in the channel, a private channel, a DM it isn't part of). It
tells a place the bot can never post in (fall back) from a moment Slack cannot take the message
(rate limited, an error on Slack's side, no connection): then it raises `PostLater`, because the
right place will work again and a fallback would put the message in the wrong one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.web import SlackResponse

from bot.feedback.posted import PostedMessage, PostLater
from bot.slack.errors import is_transient, retry_after_seconds, slack_error_code
from bot.slack.ids import EDIT_AND_RESEND_ACTION, EDIT_DETAILS_ACTION
from bot.slack.lookups import SlackLookups

log = logging.getLogger(__name__)

SECTION_MAX = 2900
# Looking for the bot's own reply in a thread: the newest replies are on the last page.
FIND_PAGE_SIZE = 200
FIND_PAGES = 5


def mrkdwn_escape(text: str) -> str:
    """Slack text is data: &, < and > are the only characters mrkdwn needs escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str, label: str) -> str:
    # A label may not contain "|" or ">" inside <url|label>; the URL is ours (the template + an id).
    safe_label = mrkdwn_escape(label).replace("|", "¦") or url
    return f"<{url}|{safe_label}>"


@dataclass(frozen=True)
class Confirmation:
    """A delivered thread, as the reply describes it."""

    thread_url: str
    title: str
    pain_label: str
    contact: str | None  # "Jane Doe <jane@…>"; None where the customer could read the reply
    submitter_id: str
    # What did not make it into Productlane (the thread, files), a line each.
    notes: tuple[str, ...] = ()
    # The "Edit details" button's value (filed by reaction), and who changed the details last.
    edit_value: str | None = None
    edited_by: str | None = None
    # Triage: "Company: …", "Linked to: …", "Tags: …"; none where the customer reads
    # the reply. `linked`: the linked issue's or project's name shown there.
    triage: tuple[str, ...] = ()
    linked: str | None = None


@dataclass(frozen=True)
class SlackReply:
    text: str  # the notification / fallback text
    blocks: list[Block]

    def blocks_json(self) -> list[dict[str, Any]]:
        return [block.to_dict() for block in self.blocks]


def confirmation_reply(confirmation: Confirmation) -> SlackReply:
    title = confirmation.title[:200]
    text = f"Sent to Productlane by <@{confirmation.submitter_id}>: {mrkdwn_escape(title)}"
    body = (
        f":white_check_mark: Sent to Productlane by <@{confirmation.submitter_id}>: "
        f"*{_link(confirmation.thread_url, title)}*"
    )
    details = f"Pain level: {mrkdwn_escape(confirmation.pain_label)}"
    for part in confirmation.triage:
        details += f" · {mrkdwn_escape(part)}"
    if confirmation.contact:
        details += f" · Contact: {mrkdwn_escape(confirmation.contact)}"
    if confirmation.edited_by:
        details += f" · Details edited by <@{confirmation.edited_by}>"
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=body[:SECTION_MAX])),
        ContextBlock(elements=[MarkdownTextObject(text=details[:1900])]),
    ]
    if confirmation.notes:
        noted = "\n".join(f":information_source: {mrkdwn_escape(note)}" for note in confirmation.notes)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=noted[:1900])]))
    if confirmation.edit_value:
        button = ButtonElement(
            text="Edit details", action_id=EDIT_DETAILS_ACTION, value=confirmation.edit_value
        )
        blocks.append(ActionsBlock(elements=[button]))
    return SlackReply(text=text, blocks=blocks)


def waiting_for_operator_reply(title: str) -> SlackReply:
    return _saved_reply(
        title,
        "The bot's connection to Productlane needs fixing by whoever runs the bot; your feedback "
        "will be sent by itself once it is",
    )


def delayed_reply(title: str) -> SlackReply:
    return _saved_reply(
        title,
        "Productlane isn't answering right now, so it will be sent as soon as Productlane is reachable",
    )


def _saved_reply(title: str, holdup: str) -> SlackReply:
    """Feedback kept by the bot, not yet in Productlane: what holds it up, and that nobody need act."""
    return notice_reply(
        f":hourglass_flowing_sand: Your feedback “{mrkdwn_escape(title[:200])}” is saved. "
        f"{holdup} — you'll get the link then. Nothing to do."
    )


def failure_reply(title: str, problem: str, item_id: str) -> SlackReply:
    text = (
        f":warning: Productlane didn't accept your feedback “{mrkdwn_escape(title[:200])}”: "
        f"{mrkdwn_escape(problem)}"
    )
    return SlackReply(
        text=text,
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=text[:SECTION_MAX])),
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text="Edit and resend",
                        action_id=EDIT_AND_RESEND_ACTION,
                        value=item_id,
                        style="primary",
                    )
                ]
            ),
        ],
    )


def notice_reply(text: str) -> SlackReply:
    return SlackReply(text=text, blocks=[SectionBlock(text=MarkdownTextObject(text=text[:SECTION_MAX]))])


def _error_code(error: Exception) -> str:
    return slack_error_code(error) if isinstance(error, SlackApiError) else type(error).__name__


def post_later_if_transient(error: Exception) -> None:
    """Raise `PostLater` when ``error`` passes by itself: a network failure, HTTP 429 or 5xx, or
    one of Slack's error codes for its own trouble. Return for a refusal of this place."""
    if isinstance(error, SlackApiError):
        if is_transient(error):
            raise PostLater(slack_error_code(error), retry_after_seconds(error.response.headers)) from error
        return
    raise PostLater(type(error).__name__, maybe_posted=True) from error


def _landed(response: SlackResponse, thread_ts: str | None = None) -> PostedMessage:
    return PostedMessage(
        channel=str(response.get("channel")), ts=str(response.get("ts")), thread_ts=thread_ts
    )


class SlackMessenger:
    """Posts the bot's replies where they belong, falling back so that someone always hears."""

    def __init__(self, client: WebClient, lookups: SlackLookups) -> None:
        self._client = client
        self._lookups = lookups

    def channel_is_internal(self, channel_id: str) -> bool:
        """Whether no other organization reads the channel, asked again before each post (see
        `SlackLookups.channel_audience`); False when Slack does not say."""
        return self._lookups.channel_is_internal(channel_id)

    def in_thread(self, channel_id: str, thread_ts: str, reply: SlackReply) -> PostedMessage | None:
        """Reply in a message's thread, joining a public channel if needed; where it landed, or
        None if the bot cannot post there. Raises `PostLater` when Slack cannot take it now."""
        try:
            return _landed(self._post(channel_id, reply, thread_ts), thread_ts)
        except (SlackApiError, OSError) as error:
            post_later_if_transient(error)
            code = _error_code(error)
            if code != "not_in_channel" or not self._join_if_public(channel_id):
                log.info("cannot reply in %s: %s", channel_id, code)
                return None
        try:
            return _landed(self._post(channel_id, reply, thread_ts), thread_ts)
        except (SlackApiError, OSError) as error:
            post_later_if_transient(error)
            log.info("cannot reply in %s after joining: %s", channel_id, _error_code(error))
            return None

    def find_in_thread(
        self, channel_id: str, thread_ts: str, is_it: Callable[[Mapping[str, Any]], bool]
    ) -> PostedMessage | None:
        """The latest message of a thread that `is_it` picks, read from Slack (a few pages at
        most); None when there is none or Slack won't show the thread."""
        found: Mapping[str, Any] | None = None
        cursor: str | None = None
        try:
            for _ in range(FIND_PAGES):
                page = self._client.conversations_replies(
                    channel=channel_id, ts=thread_ts, limit=FIND_PAGE_SIZE, cursor=cursor
                )
                for message in page.get("messages") or []:
                    if isinstance(message, Mapping) and is_it(message):
                        found = message
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    break
        except (SlackApiError, OSError) as error:
            log.info("cannot read the thread in %s: %s", channel_id, _error_code(error))
            return None
        if found is None:
            return None
        return PostedMessage(channel=channel_id, ts=str(found.get("ts")), thread_ts=thread_ts)

    def _join_if_public(self, channel_id: str) -> bool:
        channel = self._lookups.channel(channel_id)
        if channel is None or channel.is_private or channel.is_im or channel.is_mpim:
            return False
        try:
            self._client.conversations_join(channel=channel_id)
        except (SlackApiError, OSError) as error:
            log.info("cannot join %s: %s", channel_id, _error_code(error))
            return False
        self._lookups.forget_channel(channel_id)
        return True

    def _post(self, channel: str, reply: SlackReply, thread_ts: str | None = None) -> SlackResponse:
        return self._client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=reply.text,
            blocks=reply.blocks_json(),
            unfurl_links=False,
            unfurl_media=False,
        )

    def react(self, channel_id: str, ts: str, name: str) -> bool:
        """Add the bot's reaction `name` to a message (joining a public channel if needed); True
        when it is there (already was, too), False when Slack refuses. Raises `PostLater`."""
        for attempt in range(2):
            try:
                self._client.reactions_add(channel=channel_id, timestamp=ts, name=name)
                return True
            except (SlackApiError, OSError) as error:
                post_later_if_transient(error)
                code = _error_code(error)
                if code == "already_reacted":
                    return True
                if attempt or code != "not_in_channel" or not self._join_if_public(channel_id):
                    log.info("cannot react in %s: %s", channel_id, code)
                    return False
        return False

    def direct(self, user_id: str, reply: SlackReply) -> PostedMessage | None:
        """A DM from the bot to one person; None if impossible. Raises `PostLater` (see module)."""
        try:
            opened = self._client.conversations_open(users=user_id)
            return _landed(self._post(str(opened["channel"]["id"]), reply))
        except (SlackApiError, OSError) as error:
            post_later_if_transient(error)
            log.warning("cannot DM %s: %s", user_id, _error_code(error))
            return None

    def update(self, posted: PostedMessage, reply: SlackReply) -> bool:
        """Replace a message the bot posted (not an ephemeral one). False when Slack refuses for
        good (deleted, archived); raises `PostLater` when it cannot take it now."""
        try:
            self._client.chat_update(
                channel=posted.channel, ts=posted.ts, text=reply.text, blocks=reply.blocks_json()
            )
        except (SlackApiError, OSError) as error:
            post_later_if_transient(error)
            log.info("cannot update the message in %s: %s", posted.channel, _error_code(error))
            return False
        return True

    def ephemeral(self, channel_id: str, user_id: str, reply: SlackReply) -> PostedMessage | None:
        """Only ``user_id`` sees it, in ``channel_id``; None if impossible. Raises `PostLater`."""
        try:
            response = self._client.chat_postEphemeral(
                channel=channel_id, user=user_id, text=reply.text, blocks=reply.blocks_json()
            )
        except (SlackApiError, OSError) as error:
            post_later_if_transient(error)
            log.info("cannot post ephemeral in %s: %s", channel_id, _error_code(error))
            return None
        return PostedMessage(channel=channel_id, ts=str(response.get("message_ts")), ephemeral=True)

    def to_person(
        self, user_id: str, reply: SlackReply, channel_id: str | None = None
    ) -> PostedMessage | None:
        """Tell one person: only them in the channel they were in, else by DM. Raises `PostLater`."""
        if channel_id:
            landed = self.ephemeral(channel_id, user_id, reply)
            if landed is not None:
                return landed
        return self.direct(user_id, reply)


@dataclass(frozen=True, slots=True)
class SlackTools:
    """What the Slack UI works through: the Web API client, the lookups (people and channels, cached)
    and the messenger that posts the bot's replies where they belong, over the same two."""

    client: WebClient
    lookups: SlackLookups
    messenger: SlackMessenger

    @classmethod
    def over(cls, client: WebClient, lookups: SlackLookups) -> SlackTools:
        return cls(client, lookups, SlackMessenger(client, lookups))
