"""Channel messages: the `message` events a bot subscribed to `message.*` receives for every message in
every conversation it is in. Almost none are for the bot, so each is decided here, in memory, before
Bolt sees it: a message nobody follows is acked and dropped in microseconds, without a database read.

The two consumers are automatic capture (a new top-level message in a channel set to capture
automatically) and follow-ups (a reply in the Slack thread of something the bot filed). Each keeps its
part of `Interest` current; `MessageEvents` routes a message to the consumer that wants it.
"""

from bot.message_events.classify import ChannelMessage, MessageKind, read_message_event
from bot.message_events.dispatch import MessageEvents, Outcome
from bot.message_events.interest import Interest, Route

__all__ = [
    "ChannelMessage",
    "Interest",
    "MessageEvents",
    "MessageKind",
    "Outcome",
    "Route",
    "read_message_event",
]
