"""What a channel's settings say. Every key but `channel` is optional: a channel without settings (or a
key left out) behaves as the bot does everywhere by default."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from bot.productlane.models import PainLevel


class Capture(StrEnum):
    """How feedback is taken from the channel."""

    SHORTCUT = "shortcut"
    """Only when someone uses the message shortcut (or /feedback)."""
    REACTION = "reaction"
    """The shortcut, and the feedback emoji (FEEDBACK_REACTION)."""
    AUTOMATIC = "automatic"
    """Every new top-level message by a person becomes a thread, with the channel's defaults."""


class Confirm(StrEnum):
    """How the bot tells people that feedback reached Productlane."""

    THREAD = "thread"
    """A reply in the message's thread."""
    PRIVATE = "private"
    """Only the person who filed it hears (nobody, for automatic capture)."""
    REACTION = "reaction"
    """A ✅ reaction on the message, and nothing else: the customer sees no bot message."""


class ChannelSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: str
    company_id: str | None = None
    pain_level: PainLevel | None = None
    tag_ids: tuple[str, ...] = ()
    capture: Capture | None = None  # None: as everywhere (the shortcut, and the emoji if it is set)
    confirm: Confirm | None = None  # None: as everywhere (a reply in the thread)
    followups: bool = True  # replies in a filed message's thread reach Productlane (issue #15)
    replies: bool = True  # the team's replies from Productlane are posted in the thread (issue #15)


class ChannelSettingsSource(Protocol):
    """Where the rest of the bot reads channel settings: from memory, never waiting on a database."""

    def for_channel(self, channel_id: str) -> ChannelSettings | None: ...

    def all(self) -> Sequence[ChannelSettings]: ...


class NoChannelSettings:
    """No channel has settings."""

    def for_channel(self, channel_id: str) -> ChannelSettings | None:
        return None

    def all(self) -> Sequence[ChannelSettings]:
        return ()
