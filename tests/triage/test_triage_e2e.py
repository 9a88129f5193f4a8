"""End to end, triage, socket mode: the `productlane-slack` process against a fake
Productlane whose key may read its companies, projects, issues, tags and members. The selects are
answered from the catalog as the person types; the modal preselects the company; the submission
creates the thread with the ids and sets the tags by one PATCH; a choice deleted meanwhile is left
out with a note; the confirmation names what was chosen (not in Slack Connect); Edit details
changes them."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.slack.ids import (
    ASSIGNEE_SELECT,
    COMPANY_SELECT,
    EDIT_DETAILS_ACTION,
    FEEDBACK_COMMAND,
    LINK_SELECT,
    MESSAGE_SHORTCUT,
    TAGS_SELECT,
)
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack, make_channel
from tests.running_bot import (
    World,
    bot_environment,
    by_field,
    fresh_fakes,
    interact,
    opened_view,
    since,
    start_bot,
    wait_until,
)
from tests.triage.workspace import (
    SCOPES,
    Seeded,
    groups,
    labels,
    seed,
    submit,
    suggest,
    triage_environment,
    wait_for_catalog,
)

# One worker runs this module, so its bot (a module fixture) starts once, not once per worker.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180), pytest.mark.xdist_group("triage.test_triage_e2e")]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Seeded]]:
    home = tmp_path_factory.mktemp("bot")
    with FakeSlack() as slack, FakeProductlane(scopes=SCOPES) as productlane:
        ids = seed(productlane)
        env = triage_environment(bot_environment(slack, productlane, home / "outbox.db"))
        world = start_bot(slack, productlane, env, home, home / "bot.log")
        try:
            wait_until(lambda: "connected to Slack" in world.log_text(), "the connected line", timeout=30)
            wait_for_catalog(world)
            yield world, ids
        finally:
            if world.bot.poll() is None:
                world.bot.send_signal(signal.SIGTERM)
                world.bot.wait(timeout=30)
    assert world.bot.returncode == 0, world.log_text()
    assert productlane.api_key not in world.log_text()


@pytest.fixture(autouse=True)
def fresh(workspace: tuple[World, Seeded]) -> Iterator[None]:
    """Each test finds the shared fakes as the module set them up (running_bot.fresh_fakes)."""
    with fresh_fakes(workspace[0].slack, workspace[0].productlane):
        yield


@pytest.fixture
def world(workspace: tuple[World, Seeded]) -> World:
    return workspace[0]


@pytest.fixture
def ids(workspace: tuple[World, Seeded]) -> Seeded:
    return workspace[1]


def open_on_message(
    world: World, ts: str, text: str, channel: str = "C0FEEDBACK", **message: Any
) -> dict[str, Any]:
    mark = time.monotonic()
    payload = world.slack.message_shortcut_payload(MESSAGE_SHORTCUT, channel=channel)
    payload["message"].update({"ts": ts, "text": text, "blocks": [], **message})
    payload["message_ts"] = ts
    interact(world, payload)
    return opened_view(world, mark, refreshed=True)


def thread_with(world: World, text: str) -> dict[str, Any]:
    thread: dict[str, Any] = wait_until(
        lambda: next((t for t in world.productlane.threads if text in t["text"]), None),
        f"the thread {text!r}",
    )
    return thread


def reply_in(world: World, mark: float, channel: str, thread_ts: str) -> str:
    call = world.slack.web.wait_for_call(
        "chat.postMessage",
        timeout=20,
        predicate=lambda c: (
            since(mark)(c) and c.params.get("channel") == channel and c.params.get("thread_ts") == thread_ts
        ),
    )
    return str(call.params.get("blocks"))


# --- the options, as the person types -----------------------------------------------------------


def test_link_to_offers_issues_and_projects_in_groups_best_match_first(world: World) -> None:
    answer = suggest(world, LINK_SELECT, "csv exp")
    found = groups(answer)
    # Starts with the words typed before merely containing them; no project has both words.
    assert found == {"Issues": ["CSV export stalls at 99%", "Bulk CSV export for admins"]}
    assert {option["value"] for group in answer["option_groups"] for option in group["options"]} == {
        option["value"] for option in answer["option_groups"][0]["options"]
    }
    assert all(option["value"].startswith("issue:") for option in answer["option_groups"][0]["options"])

    both = groups(suggest(world, LINK_SELECT, "EXPORT"))
    assert both["Issues"][0] == "Export to PDF"  # the name starts with the word
    assert both["Projects"] == ["Exports v2"]


def test_words_match_in_any_order_whatever_the_accents_and_case(world: World) -> None:
    assert labels(suggest(world, COMPANY_SELECT, "brulee CREME")) == ["Crème Brûlée SA"]
    assert labels(suggest(world, COMPANY_SELECT, "bigcustomer.example")) == ["Big Customer Inc"]
    assert labels(suggest(world, TAGS_SELECT, "risk")) == ["churn risk"]
    everyone = labels(suggest(world, ASSIGNEE_SELECT, ""))
    assert set(everyone) == {"Dana Whitfield", "Sam Okafor"}
    assert labels(suggest(world, TAGS_SELECT, "nothing like it")) == []


# --- the modal, the submission, the thread -------------------------------------------------------


def test_the_modal_preselects_the_contacts_company_and_the_thread_gets_every_choice(
    world: World, ids: Seeded
) -> None:
    # An author of their own: the bot has not looked up (and cached) their details in an earlier test,
    # whatever order the tests run in, so the modal opens before it knows them.
    world.slack.web.add_user(
        {
            "id": "U0CUST0042",
            "team_id": "T0ACME0001",
            "name": "kim",
            "real_name": "Kim Lee",
            "is_bot": False,
            "profile": {"real_name": "Kim Lee", "display_name": "kim", "email": "kim@customer.example"},
        }
    )
    view = open_on_message(
        world, "1764400000.000100", "Exports stall at 99% for our admins", user="U0CUST0042"
    )
    blocks = by_field(view)
    assert {"company", "link", "tags", "assignee"} <= set(blocks)
    # Kim's email is at customer.example: Customer Co, found once their details were looked up.
    company = blocks["company"]["element"]["initial_option"]
    assert company == {"text": {"type": "plain_text", "text": "Customer Co"}, "value": ids["customer"]}
    assert blocks["company"]["block_id"] == "company.filled"
    assert blocks["link"]["element"]["type"] == "external_select"
    assert blocks["tags"]["element"]["type"] == "multi_external_select"

    # The submitter (dana, whose Slack email is a member's) is suggested first.
    assert (
        labels(suggest(world, ASSIGNEE_SELECT, "", view=view, user="U0CSM0002"))[0] == "Dana Whitfield (you)"
    )

    mark = time.monotonic()
    link = {
        "text": {"type": "plain_text", "text": "CSV export stalls at 99%"},
        "value": f"issue:{ids['csv_issue']}",
    }
    tags = [
        {"text": {"type": "plain_text", "text": "export"}, "value": ids["export_tag"]},
        {"text": {"type": "plain_text", "text": "enterprise"}, "value": ids["enterprise_tag"]},
    ]
    assignee = {"text": {"type": "plain_text", "text": "Sam Okafor"}, "value": ids["sam"]}
    ack = submit(
        world,
        view,
        {
            "link": {"selected_option": link},
            "tags": {"selected_options": tags},
            "assignee": {"selected_option": assignee},
        },
    )
    assert not ack.get("payload"), ack
    thread = thread_with(world, "Exports stall at 99%")
    created = next(
        r for r in world.productlane.requests_to("POST", "/threads") if "Exports stall" in r.json["text"]
    )
    assert created.json["company_id"] == ids["customer"]
    assert created.json["issue_id"] == ids["csv_issue"]
    assert created.json["assignee_id"] == ids["sam"]
    assert "tag_ids" not in created.json  # Productlane takes tags only by PATCH

    confirmation = reply_in(world, mark, "C0FEEDBACK", "1764400000.000100")
    patches = world.productlane.requests_to("PATCH", f"/threads/{thread['id']}")
    assert [p.json for p in patches] == [{"tag_ids": [ids["export_tag"], ids["enterprise_tag"]]}]
    stored = next(t for t in world.productlane.threads if t["id"] == thread["id"])
    assert [tag["name"] for tag in stored["tags"]] == ["export", "enterprise"]
    assert "Company: Customer Co" in confirmation
    assert "Linked to: CSV export stalls at 99%" in confirmation
    assert "Tags: export, enterprise" in confirmation


def test_a_company_deleted_after_it_was_chosen_is_left_out_with_a_note(world: World, ids: Seeded) -> None:
    doomed = world.productlane.catalog.add_company("Short Lived Ltd", ("shortlived.example",))
    wait_until(
        lambda: labels(suggest(world, COMPANY_SELECT, "short lived")) == ["Short Lived Ltd"],
        "the new company",
    )
    view = open_on_message(world, "1764400100.000100", "Please bring back the old dashboard")
    world.productlane.catalog.remove("companies", doomed["id"])
    mark = time.monotonic()
    chosen = {"text": {"type": "plain_text", "text": "Short Lived Ltd"}, "value": doomed["id"]}
    submit(world, view, {"company": {"selected_option": chosen}})
    confirmation = reply_in(world, mark, "C0FEEDBACK", "1764400100.000100")
    thread = thread_with(world, "old dashboard")
    assert thread["company"] is None or thread["company"]["id"] != doomed["id"]
    posts = [
        r for r in world.productlane.requests_to("POST", "/threads") if "old dashboard" in r.json["text"]
    ]
    assert [r.status for r in posts] == [400, 201]
    assert "company_id" not in posts[-1].json
    assert "The company “Short Lived Ltd” was left out: Productlane no longer knows it" in confirmation
    assert "Company:" not in confirmation


def test_slack_connect_preselects_the_customers_company_and_the_reply_names_nothing_internal(
    world: World, ids: Seeded
) -> None:
    slack = world.slack
    slack.web.channels["C0SHARED9"] = make_channel(
        "C0SHARED9",
        "bigco-support",
        is_ext_shared=True,
        is_member=True,
        connected_team_ids=["T0ACME0001", "T0BIGCO01"],
    )
    slack.web.teams["T0BIGCO01"] = {
        "id": "T0BIGCO01",
        "name": "Big Customer",
        "email_domain": "bigcustomer.example",
    }
    # An external author whose email Slack does not share: the company comes from their workspace.
    slack.web.users["U0BIGCO001"] = {
        "id": "U0BIGCO001",
        "team_id": "T0BIGCO01",
        "name": "kim",
        "real_name": "Kim Lee",
        "is_bot": False,
        "profile": {"real_name": "Kim Lee", "display_name": "kim"},
    }
    view = open_on_message(
        world,
        "1764400200.000100",
        "Our SSO login loops",
        channel="C0SHARED9",
        user="U0BIGCO001",
        user_team="T0BIGCO01",
    )
    assert by_field(view)["company"]["element"]["initial_option"]["value"] == ids["bigco"]
    mark = time.monotonic()
    tags = [{"text": {"type": "plain_text", "text": "enterprise"}, "value": ids["enterprise_tag"]}]
    submit(world, view, {"contact_email": "kim@bigcustomer.example", "tags": {"selected_options": tags}})
    confirmation = reply_in(world, mark, "C0SHARED9", "1764400200.000100")
    thread = thread_with(world, "SSO login loops")
    created = next(
        r for r in world.productlane.requests_to("POST", "/threads") if "SSO login" in r.json["text"]
    )
    assert created.json["company_id"] == ids["bigco"]
    assert created.json["origin"] == "slack_connect"
    wait_until(lambda: world.productlane.requests_to("PATCH", f"/threads/{thread['id']}"), "the tags")
    for internal in ("Big Customer Inc", "enterprise", "Company:", "Tags:"):
        assert internal not in confirmation


def test_without_any_list_the_slash_command_opens_todays_modal_for_keys_that_cannot_read(
    world: World,
) -> None:
    # /feedback in the module's bot shows the fields; the key-without-scopes case is in test_triage_http.
    mark = time.monotonic()
    interact(world, world.slack.slash_command_payload(FEEDBACK_COMMAND, "Dark mode please"))
    view = opened_view(world, mark)
    assert {"company", "link", "tags", "assignee"} <= set(by_field(view))


# --- Edit details -------------------------------------------------------------------------------


def test_edit_details_changes_company_tags_and_link_and_the_reply(world: World, ids: Seeded) -> None:
    slack, productlane = world.slack, world.productlane
    ts = "1764400300.000100"
    slack.web.add_message(
        "C0FEEDBACK", {"type": "message", "user": "U0CUST0003", "ts": ts, "text": "PDF export cuts tables"}
    )
    mark = time.monotonic()
    interact(world, slack.reaction_added_payload(ts, user="U0CSM0002"), kind="events_api")
    reply_in(world, mark, "C0FEEDBACK", ts)
    posted = next(c for c in slack.web.calls("chat.postMessage") if c.params.get("thread_ts") == ts)
    message = {"ts": posted.response["ts"], "text": posted.params["text"], "blocks": posted.params["blocks"]}
    thread = thread_with(world, "PDF export cuts tables")
    # Filed without a modal, with the author's company all the same.
    filed = next(
        r for r in productlane.requests_to("POST", "/threads") if "PDF export cuts" in r.json["text"]
    )
    assert filed.json["company_id"] == ids["customer"]
    assert "Company: Customer Co" in str(posted.params["blocks"])

    pressed = time.monotonic()
    interact(world, slack.block_actions_payload(EDIT_DETAILS_ACTION, message=message, channel="C0FEEDBACK"))
    view = opened_view(world, pressed)
    assert {"title", "pain_level", "company", "link", "tags", "assignee"} <= set(by_field(view))
    company = {"text": {"type": "plain_text", "text": "Acme Widgets"}, "value": ids["acme_widgets"]}
    link = {"text": {"type": "plain_text", "text": "Export to PDF"}, "value": f"issue:{ids['pdf_issue']}"}
    tags = [{"text": {"type": "plain_text", "text": "churn risk"}, "value": ids["churn_tag"]}]
    ack = submit(
        world,
        view,
        {
            "company": {"selected_option": company},
            "link": {"selected_option": link},
            "tags": {"selected_options": tags},
        },
    )
    assert not ack.get("payload"), ack
    updated = slack.web.wait_for_call("chat.update", timeout=30, predicate=since(pressed))
    patch = productlane.requests_to("PATCH", f"/threads/{thread['id']}")[-1]
    assert patch.json["company_id"] == ids["acme_widgets"]
    assert patch.json["tag_ids"] == [ids["churn_tag"]]
    assert "assignee_id" not in patch.json  # nobody touched it
    needs = productlane.requests_to("POST", f"/threads/{thread['id']}/customer-needs")
    assert [n.json for n in needs] == [{"issue_ids": [ids["pdf_issue"]]}]
    refreshed = str(updated.params["blocks"])
    assert "Company: Acme Widgets" in refreshed
    assert "Linked to: Export to PDF" in refreshed
    assert "Tags: churn risk" in refreshed

    again = time.monotonic()
    interact(world, slack.block_actions_payload(EDIT_DETAILS_ACTION, message=message, channel="C0FEEDBACK"))
    reopened = by_field(opened_view(world, again))
    assert reopened["company"]["element"]["initial_option"]["value"] == ids["acme_widgets"]
    assert [o["value"] for o in reopened["tags"]["element"]["initial_options"]] == [ids["churn_tag"]]
