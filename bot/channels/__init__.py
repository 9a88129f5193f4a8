"""Settings per channel: a channel's company, default pain level and tags, how feedback is
captured there and how the bot confirms it, and whether its threads follow the conversation."""

from bot.channels.model import Capture, ChannelSettings, ChannelSettingsSource, Confirm, NoChannelSettings

__all__ = ["Capture", "ChannelSettings", "ChannelSettingsSource", "Confirm", "NoChannelSettings"]
