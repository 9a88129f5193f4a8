"""Bolt listeners, one module per Slack surface. Each is a thin adapter: read the payload, call
the domain, answer Slack. With `process_before_response`, an ack function answers Slack as soon as it
returns, and the slow part runs afterwards as a lazy listener."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from slack_bolt import Ack

from bot.delivery.intake import Intake
from bot.feedback.submission import DraftStore, EditTarget
from bot.home import HomeTab
from bot.home.held import HeldActions
from bot.productlane.models import PainLevel
from bot.triage.service import Triage
from bot.ui.access import Access
from bot.ui.channel_settings import ChannelSettingsModals
from bot.ui.modals import FeedbackModals
from bot.ui.reactions import ReactionFiler


class EditTargets(Protocol):
    def edit_target(self, dedupe_key: str) -> EditTarget | None: ...


@dataclass(frozen=True)
class Services:
    """What the listeners call into."""

    modals: FeedbackModals
    # Whether the person is one of ours: asked by every listener before it shows or changes anything.
    access: Access
    drafts: DraftStore
    intake: Intake
    default_pain: PainLevel
    # Capture: an emoji files a message; "Edit details" changes its thread.
    reactions: ReactionFiler | None = None
    edit_targets: EditTargets | None = None
    # Settings per channel: `/feedback settings` and its modal.
    channel_settings: ChannelSettingsModals | None = None
    # The App Home: each person's submissions, and a New feedback button.
    home: HomeTab | None = None
    # Triage: the modal's searchable selects, answered from the catalog.
    triage: Triage | None = None
    # What the flood limits held: an admin's File and Drop buttons on the Home.
    held: HeldActions | None = None


def acknowledge(ack: Ack) -> None:
    """The ack function of every listener whose work happens after Slack has its answer."""
    ack()
