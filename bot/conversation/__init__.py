"""The conversation goes on after filing: people's replies in a filed message's Slack thread reach
its Productlane thread — as comments, or by re-rendering the body when Productlane refuses
comments — once each, in Slack's order, behind new feedback in the shared write budget.

The other half, the team's replies from Productlane posted into Slack, lives with the other
Productlane → Slack updates in `bot.updates`; `Conversation.bot_wrote` keeps what the bot wrote
from coming back. See docs/conversation.md.
"""

from bot.conversation.service import Conversation, build_conversation, describe_route

__all__ = ["Conversation", "build_conversation", "describe_route"]
