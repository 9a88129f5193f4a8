"""Slack Connect fails closed in the Slack adapter: a channel Slack will not describe counts as
shared, and asked again soon; a person Slack will not describe, or of another organization, is not
one of ours — unless the app is installed for the whole Enterprise Grid organization they are in."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient

from bot.slack.lookups import Audience, SlackLookups, TTLCache
from bot.slack.team import OwnTeam, Standing, Teammates, belongs
from tests.fakes.slack import TEAM_ID, FakeSlackWebAPI, make_channel

RATELIMITED = {"ok": False, "error": "ratelimited"}


@pytest.mark.parametrize(
    ("team", "enterprise", "ours", "expected"),
    [
        (TEAM_ID, None, OwnTeam(TEAM_ID), True),
        ("T0CUSTOMR1", None, OwnTeam(TEAM_ID), False),
        (None, None, OwnTeam(TEAM_ID), False),  # Slack did not say: not ours
        (TEAM_ID, None, OwnTeam(None), False),  # nor when the bot does not know its own team
        ("T0SISTER01", "E0ORG00001", OwnTeam(TEAM_ID, "E0ORG00001"), True),  # same organization
        ("T0SISTER01", "E0OTHER001", OwnTeam(TEAM_ID, "E0ORG00001"), False),
        ("T0SISTER01", "E0ORG00001", OwnTeam(TEAM_ID), False),  # not installed org-wide
    ],
)
def test_who_belongs_to_the_workspace_or_its_organization(
    team: str | None, enterprise: str | None, ours: OwnTeam, expected: bool
) -> None:
    assert belongs(team, enterprise, ours) is expected


def test_a_person_slack_cannot_describe_is_not_a_teammate_and_is_asked_about_again() -> None:
    with FakeSlackWebAPI() as slack:
        slack.add_user({"id": "U0THEIRS01", "team_id": "T0CUSTOMR1", "name": "cy"})
        slack.add_user(
            {
                "id": "U0SISTER01",
                "team_id": "T0SISTER01",
                "name": "sis",
                "enterprise_user": {"enterprise_id": "E0ORG00001"},
            }
        )
        lookups = SlackLookups(WebClient(token=slack.bot_token, base_url=slack.api_url))
        teammates = Teammates(lookups, OwnTeam(TEAM_ID))
        assert teammates.is_teammate("U0CSM0002", {"id": "U0CSM0002", "team_id": TEAM_ID})
        assert not teammates.is_teammate("U0THEIRS01", {"id": "U0THEIRS01", "team_id": "T0CUSTOMR1"})
        assert not teammates.is_teammate("U0THEIRS01")
        assert not teammates.is_teammate("U0SISTER01")
        assert Teammates(lookups, OwnTeam(TEAM_ID, "E0ORG00001")).is_teammate("U0SISTER01")

        slack.respond("users.info", RATELIMITED, status=429, headers={"Retry-After": "1"}, times=1)
        assert not teammates.is_teammate("U0CSM0001")  # Slack would not say: refused
        lookups.users.forget("U0CSM0001")  # the passing trouble is remembered seconds only
        assert teammates.is_teammate("U0CSM0001")
        # On the ack path only what is cached counts: someone never looked up is refused.
        assert not teammates.is_teammate("U0FRESH001", wait=False)


def test_without_waiting_a_person_is_ours_a_known_outsider_or_not_known_yet() -> None:
    """The submission's ack reads only the request and the cache: someone not known yet is told
    apart from someone Slack said is another organization's."""
    with FakeSlackWebAPI() as slack:
        sibling = {"id": "U0SISTER01", "team_id": "T0SISTER01", "name": "sis"}
        slack.add_user(sibling | {"enterprise_user": {"enterprise_id": "E0ORG00001"}})
        slack.add_user({"id": "U0THEIRS01", "team_id": "T0CUSTOMR1", "name": "cy"})
        lookups = SlackLookups(WebClient(token=slack.bot_token, base_url=slack.api_url))
        org = Teammates(lookups, OwnTeam(TEAM_ID, "E0ORG00001"))
        assert org.standing("U0CSM0002", {"id": "U0CSM0002", "team_id": TEAM_ID}) is Standing.OURS
        assert org.standing("U0SISTER01", sibling) is Standing.UNKNOWN
        assert org.standing("") is Standing.OUTSIDER
        # Where the request's user object names the person's organization, that is enough.
        named = sibling | {"enterprise_user": {"enterprise_id": "E0ORG00001"}}
        assert org.standing("U0SISTER01", named) is Standing.OURS
        assert slack.calls("users.info") == []  # nothing was asked of Slack

        assert org.look_up("U0SISTER01") is Standing.OURS
        assert org.standing("U0SISTER01", sibling) is Standing.OURS
        # Their workspace is now known to be the organization's: its next person needs no lookup.
        assert org.standing("U0SISTER02", {"id": "U0SISTER02", "team_id": "T0SISTER01"}) is Standing.OURS
        assert org.look_up("U0THEIRS01") is Standing.OUTSIDER
        assert org.standing("U0THEIRS01", {"id": "U0THEIRS01", "team_id": "T0CUSTOMR1"}) is Standing.OUTSIDER

        # Not installed org-wide: another team is an outsider at once.
        workspace = Teammates(lookups, OwnTeam(TEAM_ID))
        assert (
            workspace.standing("U0NEW00001", {"id": "U0NEW00001", "team_id": "T0SISTER01"})
            is Standing.OUTSIDER
        )
        assert workspace.standing("U0NEW00001") is Standing.UNKNOWN


def test_a_channel_slack_will_not_describe_counts_as_shared_and_is_asked_about_at_the_next_post() -> None:
    with FakeSlackWebAPI() as slack:
        lookups = SlackLookups(WebClient(token=slack.bot_token, base_url=slack.api_url))
        slack.respond("conversations.info", RATELIMITED, status=429, headers={"Retry-After": "1"}, times=1)
        assert lookups.channel_audience("C0FEEDBACK") is Audience.UNKNOWN
        # The failure was not remembered as a fact: the next post asks Slack again.
        assert lookups.channel_is_internal("C0FEEDBACK")
        assert len(slack.calls("conversations.info")) >= 2


def test_a_channel_shared_after_it_was_looked_up_is_shared_once_the_minute_is_over() -> None:
    now = [0.0]
    with FakeSlackWebAPI() as slack:
        lookups = SlackLookups(WebClient(token=slack.bot_token, base_url=slack.api_url))
        lookups.audiences = TTLCache(SlackLookups.AUDIENCE_TTL, clock=lambda: now[0])
        assert lookups.channel_audience("C0FEEDBACK") is Audience.INTERNAL
        slack.channels["C0FEEDBACK"] = make_channel("C0FEEDBACK", "customer-feedback", is_ext_shared=True)
        now[0] += SlackLookups.AUDIENCE_TTL + 1
        # The channel's other facts are kept ten minutes; whether it is shared is asked again.
        assert lookups.channel_audience("C0FEEDBACK") is Audience.SHARED
        slack.channels["C0PENDING1"] = make_channel("C0PENDING1", "invited", is_pending_ext_shared=True)
        assert lookups.channel_audience("C0PENDING1") is Audience.SHARED


def test_whether_someone_is_in_a_channel_is_yes_no_or_unknown() -> None:
    with FakeSlackWebAPI() as slack:
        slack.add_channel("C0PRIVATE1", "secret", is_private=True, members=["U0CSM0001"])
        lookups = SlackLookups(WebClient(token=slack.bot_token, base_url=slack.api_url))
        assert lookups.is_channel_member("C0PRIVATE1", "U0CSM0001") is True
        assert lookups.is_channel_member("C0PRIVATE1", "U0CSM0002") is False
        slack.respond("conversations.members", RATELIMITED, status=429, headers={"Retry-After": "1"}, times=1)
        assert lookups.is_channel_member("C0PRIVATE1", "U0CSM0001") is None
