"""Flood limits: how many new threads (automatic capture) and follow-ups one author and one channel
may send to Productlane in an hour. What goes over is held — kept, not sent — until an admin files
or drops it on the App Home; the admins hear once when a channel first goes over.

The limits are checked only for what automatic capture and follow-ups do keep (their intake), never
in the in-memory fast path every channel message takes. See docs/channels.md ("Flood limits").
"""

from bot.floods.alerts import AlertRetry, FloodAlerts, flood_alert_text
from bot.floods.limits import NO_LIMITS, FloodLimits, Limit, Scope, flood_limits, over_limit
from bot.floods.store import FloodStore, HeldGroup, HeldItem, Verdict

__all__ = [
    "NO_LIMITS",
    "AlertRetry",
    "FloodAlerts",
    "FloodLimits",
    "FloodStore",
    "HeldGroup",
    "HeldItem",
    "Limit",
    "Scope",
    "Verdict",
    "flood_alert_text",
    "flood_limits",
    "over_limit",
]
