"""Productlane → Slack: what happens to a thread in Productlane shows in its Slack thread.

Signed webhooks (or polling, without a public URL) are stored as events; a worker applies each
once and keeps the bot's confirmation reply current, posting "✅ done" and "🚀 shipped" once.
"""

from bot.updates.remember import RememberedThread, thread_record_from_delivery
from bot.updates.service import WEBHOOK_PATH, Updates, build_updates, describe_mode
from bot.updates.signature import MAX_BODY_BYTES

__all__ = [
    "MAX_BODY_BYTES",
    "WEBHOOK_PATH",
    "RememberedThread",
    "Updates",
    "build_updates",
    "describe_mode",
    "thread_record_from_delivery",
]
