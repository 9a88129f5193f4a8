"""What a channel's settings say. Every key but `channel` is optional: a channel without settings (or a
key left out) behaves as the bot does everywhere by default."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, Protocol

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
    followups: bool = True  # replies in a filed message's thread reach Productlane (follow-ups)
    replies: bool = True  # the team's replies from Productlane are posted in the thread

    def merged(self, values: Mapping[str, Any]) -> ChannelSettings:
        """These settings with ``values`` (field → value, as JSON would give them) set; every other
        field keeps what it was. Raises ValueError (a pydantic ValidationError) for a bad value."""
        return ChannelSettings.model_validate({**self.model_dump(), **values, "channel": self.channel})

    @property
    def emoji_files(self) -> bool:
        """The feedback emoji (FEEDBACK_REACTION, when set) files messages here. Off where capture is
        `shortcut` (that is what choosing it means) and `automatic` (top-level messages are filed
        already, and a reply there is a follow-up of its thread, not feedback of its own)."""
        return self.capture in (None, Capture.REACTION)

    @property
    def captures_automatically(self) -> bool:
        return self.capture is Capture.AUTOMATIC

    @property
    def confirmation(self) -> Confirm:
        return self.confirm or Confirm.THREAD


def emoji_files_in(settings: ChannelSettings | None) -> bool:
    """Whether the feedback emoji files messages in a channel with these settings (None: none)."""
    return settings is None or settings.emoji_files


def confirmation_in(settings: ChannelSettings | None) -> Confirm:
    """How feedback from a channel with these settings is confirmed (None: a reply in the thread)."""
    return Confirm.THREAD if settings is None else settings.confirmation


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
