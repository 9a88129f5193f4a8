"""Identifiers shared by the Slack app manifest and the listeners that answer them.

`tests/test_manifest.py` fails when `manifest.yml` and these drift apart.
"""

MESSAGE_SHORTCUT = "send_to_productlane"
GLOBAL_SHORTCUT = "new_feedback"
FEEDBACK_COMMAND = "/feedback"
FEEDBACK_MODAL = "productlane_feedback"
EDIT_AND_RESEND_ACTION = "productlane_edit_and_resend"
SEND_AGAIN_ACTION = "productlane_send_again"
EDIT_DETAILS_ACTION = "productlane_edit_details"
# Triage: searchable selects answered from the local catalog (block_suggestion), in the
# feedback modal and in a channel's settings alike.
COMPANY_SELECT = "triage_company"
LINK_SELECT = "triage_link"  # one issue or one project
TAGS_SELECT = "triage_tags"
ASSIGNEE_SELECT = "triage_assignee"
# Settings per channel: `/feedback settings` opens this modal.
CHANNEL_SETTINGS_MODAL = "productlane_channel_settings"
REACTION_EVENT = "reaction_added"
# The App Home: opening the Home tab publishes it; its button opens the feedback modal.
HOME_OPENED_EVENT = "app_home_opened"
HOME_VIEW = "productlane_home"
HOME_NEW_FEEDBACK_ACTION = "productlane_home_new_feedback"
# The admins' part of the Home: what the flood limits held in a channel, filed on or dropped.
HOME_FILE_HELD_ACTION = "productlane_home_file_held"
HOME_DROP_HELD_ACTION = "productlane_home_drop_held"
# Every message in the conversations the bot is in (automatic capture, follow-ups): answered by
# bot.message_events before Bolt, not by a Bolt listener.
MESSAGE_EVENT_SUBSCRIPTIONS = ("message.channels", "message.groups", "message.im", "message.mpim")

# What the bot's features need, and nothing more:
REQUIRED_BOT_SCOPES: tuple[str, ...] = (
    "commands",  # the message shortcut, the global shortcut and /feedback
    "chat:write",  # the reply in the source message's thread, ephemeral confirmations, DMs
    "users:read",  # the author's and mentioned people's names
    "users:read.email",  # the author's email, prefilled as the Productlane contact
    "usergroups:read",  # @handles of mentioned user groups
    "channels:read",  # a public channel's name, and whether it is shared (Slack Connect)
    "groups:read",  # the same for private channels the bot is in
    "im:read",  # whether a conversation is a DM
    "mpim:read",  # whether a conversation is a group DM
    "channels:join",  # join a public channel to reply in its thread
    "im:write",  # open a DM with the submitter when the thread can't be replied to
    # Capture (an emoji files a message, with its thread and files):
    "files:read",  # download a message's files (with the bot token) to copy them into Productlane
    "reactions:read",  # the reaction_added event: an emoji files a message
    "channels:history",  # read a whole thread, or the message reacted to, in a public channel
    "groups:history",  # … in a private channel the bot is in
    "im:history",  # … in a DM
    "mpim:history",  # … in a group DM
    # Settings per channel (the reaction confirmation style):
    "reactions:write",  # the ✅ on a message, in channels whose confirmation style is `reaction`
    # Triage (preselecting a Slack Connect customer's company):
    "team:read",  # a Slack Connect customer's email domain (team.info), to preselect its company
)
