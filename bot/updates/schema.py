"""The tables of Productlane → Slack updates, on the outbox's database and metadata.

They hang on the one `bot.db.metadata`: opening the database creates them. New tables need no
migration step (`create_all` adds missing tables); a later change to their columns does.

* ``updates_events`` — the inbox: one row per Productlane event (webhook or poll), keyed by the
  event id, claimed under a lease by one worker, which applies it once.
* ``updates_threads`` — the Slack side of each thread the bot created, and what Slack has been
  told of it (status, the snapshot time behind that status, milestones reached).
* ``updates_links`` — thread ↔ issue/project links (Productlane's customer needs).
* ``updates_effects`` — what is to be done in Slack (edit the confirmation, post a milestone),
  sent with retries by the worker; a milestone's key makes it once-only.
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.db.schema import metadata
from bot.db.types import ID, JSON, UtcMicros

__all__ = ["EFFECT_STATUSES", "EVENT_STATUSES", "effects", "events", "links", "threads"]

EVENT_STATUSES = ("pending", "applying", "applied")
EFFECT_STATUSES = ("pending", "sending", "done", "dropped")

events = sa.Table(
    "updates_events",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(255), nullable=False, unique=True),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("payload", JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("received_at", UtcMicros, nullable=False),
    sa.Column("next_attempt_at", UtcMicros, nullable=False),
    sa.Column("lease_owner", sa.String(255), nullable=True),
    sa.Column("lease_until", UtcMicros, nullable=True),
    sa.Column("applied_at", UtcMicros, nullable=True),
    sa.Column("outcome", sa.String(200), nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'applying', 'applied')", name="updates_events_status"),
    sa.Index("updates_events_due", "status", "next_attempt_at"),
    sa.Index("updates_events_lease", "status", "lease_until"),
    sa.Index("updates_events_applied", "status", "applied_at"),
)

threads = sa.Table(
    "updates_threads",
    metadata,
    sa.Column("thread_id", sa.String(255), primary_key=True),
    # Where milestone replies go: a channel and the Slack thread in it.
    sa.Column("channel_id", sa.String(64), nullable=False),
    sa.Column("thread_ts", sa.String(32), nullable=True),
    # The bot's confirmation reply, kept current with chat.update (unknown: no edits).
    sa.Column("reply_channel_id", sa.String(64), nullable=True),
    sa.Column("reply_ts", sa.String(32), nullable=True),
    sa.Column("is_slack_connect", sa.Boolean, nullable=False),
    # What the confirmation says (title, link, …), to render it again with a status line.
    sa.Column("confirmation", JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    # The `updated_at` of the snapshot behind `status`: an older snapshot never overwrites it.
    sa.Column("status_as_of", UtcMicros, nullable=True),
    sa.Column("done_reached", sa.Boolean, nullable=False),
    sa.Column("shipped_reached", sa.Boolean, nullable=False),
    sa.Column("remembered_at", UtcMicros, nullable=False),
    sa.Column("updated_at", UtcMicros, nullable=False),
    # Polling (no webhooks): when this thread is next looked at.
    sa.Column("next_poll_at", UtcMicros, nullable=True),
    sa.Index("updates_threads_poll", "status", "next_poll_at"),
)

links = sa.Table(
    "updates_links",
    metadata,
    # Productlane's customer need id: one link of one thread to an issue and/or a project.
    sa.Column("need_id", sa.String(255), primary_key=True),
    sa.Column("thread_id", sa.String(255), nullable=False),
    sa.Column("issue_id", sa.String(255), nullable=True),
    sa.Column("project_id", sa.String(255), nullable=True),
    sa.Column("issue_name", sa.String(512), nullable=True),
    sa.Column("project_name", sa.String(512), nullable=True),
    # Removed before (or without) being seen created: a late "created" must not bring it back.
    sa.Column("removed", sa.Boolean, nullable=False),
    sa.Column("completed", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcMicros, nullable=False),
    sa.Index("updates_links_thread", "thread_id"),
    sa.Index("updates_links_issue", "issue_id"),
    sa.Index("updates_links_project", "project_id"),
)

effects = sa.Table(
    "updates_effects",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    # "edit:<thread>", "done:<thread>", "shipped:<thread>": a milestone can be queued once only.
    sa.Column("effect_key", sa.String(255), nullable=False, unique=True),
    sa.Column("thread_id", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("text", sa.Text, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    # Bumped when an edit is asked for again: a send of an older generation does not count.
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcMicros, nullable=False),
    sa.Column("lease_owner", sa.String(255), nullable=True),
    sa.Column("lease_until", UtcMicros, nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("created_at", UtcMicros, nullable=False),
    sa.Column("updated_at", UtcMicros, nullable=False),
    sa.CheckConstraint("status IN ('pending', 'sending', 'done', 'dropped')", name="updates_effects_status"),
    sa.Index("updates_effects_due", "status", "next_attempt_at"),
    sa.Index("updates_effects_lease", "status", "lease_until"),
)

TABLES = (events, threads, links, effects)
