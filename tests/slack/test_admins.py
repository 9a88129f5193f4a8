"""Who may change the bot's settings: workspace admins and owners (from users.info), and the people
named in FEEDBACK_ADMINS; an admin of another organization's workspace is not one of ours."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.slack.admins import WorkspaceAdmins
from bot.slack.lookups import SlackLookups
from tests.fakes.slack import TEAM_ID, FakeSlackWebAPI


def test_admins_owners_and_named_people_are_admins_and_others_are_told_who_is() -> None:
    with FakeSlackWebAPI() as slack:
        slack.add_user({"id": "U0ADMIN001", "team_id": TEAM_ID, "name": "ada", "is_admin": True})
        slack.add_user({"id": "U0OWNER001", "team_id": TEAM_ID, "name": "oli", "is_owner": True})
        slack.add_user({"id": "U0THEIRS01", "team_id": "T0CUSTOMR1", "name": "cy", "is_admin": True})
        slack.add_user({"id": "U0PERSON01", "team_id": TEAM_ID, "name": "pat"})
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        admins = WorkspaceAdmins(SlackLookups(client), ["U0NAMED001"], TEAM_ID)

        assert admins.is_admin("U0ADMIN001")
        assert admins.is_admin("U0OWNER001")
        assert admins.is_admin("U0NAMED001")  # named: no lookup needed
        assert not admins.is_admin("U0THEIRS01")  # an admin, of the customer's workspace
        assert not admins.is_admin("U0PERSON01")
        assert not admins.is_admin("U0NOBODY01")  # Slack doesn't know them
        assert admins.who_can() == "workspace admins and owners, and <@U0NAMED001>"
