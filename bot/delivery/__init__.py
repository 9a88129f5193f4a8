"""Delivery: the durable outbox and the worker that sends its items."""

from bot.delivery.outbox import AddResult, Outbox, OutboxItem, Status

__all__ = ["AddResult", "Outbox", "OutboxItem", "Status"]
