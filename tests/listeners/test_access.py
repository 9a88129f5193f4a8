"""Edit and resend reads the source channel again with the bot's access: in a public channel for
anyone of the workspace; anywhere else only for someone Slack says is in it now."""

from __future__ import annotations

from bot.slack.lookups import SlackChannel
from bot.ui.access import CANNOT_TELL_MEMBER, LEFT_CHANNEL, reread_refusal

PUBLIC = SlackChannel(
    id="C1", name="general", is_private=False, is_im=False, is_mpim=False, is_shared=False, is_member=True
)
PRIVATE = SlackChannel(
    id="G1", name="secret", is_private=True, is_im=False, is_mpim=False, is_shared=False, is_member=True
)


def test_a_public_channel_is_read_again_for_anyone_of_the_workspace() -> None:
    assert reread_refusal(PUBLIC, None) is None


def test_a_private_channel_only_for_someone_still_in_it() -> None:
    assert reread_refusal(PRIVATE, True) is None
    assert reread_refusal(PRIVATE, False) == LEFT_CHANNEL
    assert reread_refusal(PRIVATE, None) == CANNOT_TELL_MEMBER


def test_a_channel_slack_wont_describe_is_treated_as_private() -> None:
    assert reread_refusal(None, None) == CANNOT_TELL_MEMBER
    assert reread_refusal(None, True) is None
