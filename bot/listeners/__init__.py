"""Bolt listeners, one module per Slack surface. Each is a thin adapter: read the payload, call
the domain, answer Slack. With `process_before_response`, an ack function answers Slack as soon as it
returns, and the slow part runs afterwards as a lazy listener."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt import Ack

from bot.delivery.intake import Intake
from bot.feedback.submission import DraftStore
from bot.productlane.models import PainLevel
from bot.slack.modals import FeedbackModals


@dataclass(frozen=True)
class Services:
    """What the listeners call into."""

    modals: FeedbackModals
    drafts: DraftStore
    intake: Intake
    default_pain: PainLevel


def acknowledge(ack: Ack) -> None:
    """The ack function of every listener whose work happens after Slack has its answer."""
    ack()
