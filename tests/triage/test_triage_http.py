"""End to end, triage, HTTP mode: Slack's options requests arrive as signed POSTs to
/slack/events and are answered in the response body; the modal shows a field only for what the key
can read; the submission sends the ids and the tags."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.slack.ids import COMPANY_SELECT, GLOBAL_SHORTCUT, LINK_SELECT, MESSAGE_SHORTCUT
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.running_bot import by_field, fresh_fakes, since, wait_until
from tests.triage.workspace import SCOPES, Seeded, option, seed, triage_environment, wait_for_catalog
from tests.web.client import payload_body, post_signed
from tests.web.test_http_mode import HttpBot, start_http_bot, stop

# One worker runs this module, so its bot (a module fixture) starts once, not once per worker.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180), pytest.mark.xdist_group("triage.test_triage_http")]


@pytest.fixture(scope="module")
def http_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HttpBot, Seeded]]:
    home = tmp_path_factory.mktemp("http-triage")
    with FakeSlack() as slack, FakeProductlane(scopes=SCOPES) as productlane:
        ids = seed(productlane)
        bot = start_http_bot(slack, productlane, home, **triage_environment({}))
        try:
            wait_for_catalog(bot.world)
            yield bot, ids
        finally:
            assert stop(bot) == 0, bot.world.log_text()


@pytest.fixture(autouse=True)
def fresh(http_workspace: tuple[HttpBot, Seeded]) -> Iterator[None]:
    """Each test finds the shared fakes as the module set them up (running_bot.fresh_fakes)."""
    with fresh_fakes(http_workspace[0].world.slack, http_workspace[0].world.productlane):
        yield


def options_over_http(bot: HttpBot, action_id: str, value: str) -> dict[str, Any]:
    answer = post_signed(bot.port, payload_body(bot.slack.block_suggestion_payload(action_id, value)))
    assert answer.status == 200, answer
    body = json.loads(answer.body)
    assert isinstance(body, dict)
    return body


def opened(bot: HttpBot, payload: dict[str, Any], *, refreshed: bool = False) -> dict[str, Any]:
    mark = time.monotonic()
    assert post_signed(bot.port, payload_body(payload)).status == 200
    call = bot.slack.web.wait_for_call("views.open", timeout=10, predicate=since(mark))
    view_id = call.response["view"]["id"]
    if refreshed:
        bot.slack.web.wait_for_call(
            "views.update",
            timeout=10,
            predicate=lambda c: since(mark)(c) and c.params.get("view_id") == view_id,
        )
    return dict(bot.slack.web.views[view_id])


def test_options_are_answered_in_the_response_body(http_workspace: tuple[HttpBot, Seeded]) -> None:
    bot, ids = http_workspace
    body = options_over_http(bot, LINK_SELECT, "single sign")
    assert body == {
        "option_groups": [
            {
                "label": {"type": "plain_text", "text": "Projects"},
                "options": [option("Single sign-on", f"project:{ids['sso_project']}")],
            }
        ]
    }
    companies = options_over_http(bot, COMPANY_SELECT, "creme")
    assert companies == {"options": [option("Crème Brûlée SA", ids["creme"])]}


def test_a_submission_over_http_creates_the_thread_with_the_ids_and_tags(
    http_workspace: tuple[HttpBot, Seeded],
) -> None:
    bot, ids = http_workspace
    slack, productlane = bot.slack, bot.world.productlane
    payload = slack.message_shortcut_payload(MESSAGE_SHORTCUT)
    payload["message"].update(
        {"ts": "1764500000.000100", "text": "Need SAML for all workspaces", "blocks": []}
    )
    payload["message_ts"] = "1764500000.000100"
    view = opened(bot, payload, refreshed=True)
    blocks = by_field(view)
    assert blocks["company"]["element"]["initial_option"]["value"] == ids["customer"]
    state: dict[str, dict[str, Any]] = {
        blocks["link"]["block_id"]: {
            "triage_link": {"selected_option": option("Single sign-on", f"project:{ids['sso_project']}")}
        },
        blocks["tags"]["block_id"]: {
            "triage_tags": {"selected_options": [option("enterprise", ids["enterprise_tag"])]}
        },
    }
    answer = post_signed(bot.port, payload_body(slack.view_submission_payload(view["id"], state)))
    assert answer.status == 200, answer
    assert not answer.body
    thread = wait_until(
        lambda: next((t for t in productlane.threads if "SAML" in t["text"] and t["tags"]), None),
        "the tagged thread",
    )
    created = next(r for r in productlane.requests_to("POST", "/threads") if "SAML" in r.json["text"])
    assert created.json["project_id"] == ids["sso_project"]
    assert created.json["company_id"] == ids["customer"]
    assert [tag["id"] for tag in thread["tags"]] == [ids["enterprise_tag"]]
    assert len(productlane.requests_to("PATCH", f"/threads/{thread['id']}")) == 1


def test_a_key_that_reads_only_companies_gets_only_the_company_field(tmp_path: Path) -> None:
    with (
        FakeSlack() as slack,
        FakeProductlane(scopes=("threads:read", "threads:write", "companies:read")) as productlane,
    ):
        productlane.catalog.add_company("Customer Co", ("customer.example",))
        productlane.seed_issue("An issue nobody may read")
        bot = start_http_bot(slack, productlane, tmp_path, **triage_environment({}))
        try:
            wait_for_catalog(bot.world, ("companies",))
            wait_until(lambda: "catalog: members unavailable" in bot.world.log_text(), "the members refused")
            view = opened(bot, slack.global_shortcut_payload(GLOBAL_SHORTCUT))
            fields = set(by_field(view))
            assert "company" in fields
            assert not fields & {"link", "tags", "assignee"}
            assert options_over_http(bot, LINK_SELECT, "issue") == {"options": []}
        finally:
            assert stop(bot) == 0, bot.world.log_text()


def test_a_key_that_reads_none_of_the_lists_gets_todays_modal(tmp_path: Path) -> None:
    with FakeSlack() as slack, FakeProductlane() as productlane:
        productlane.catalog.add_company("Customer Co", ("customer.example",))
        bot = start_http_bot(slack, productlane, tmp_path, **triage_environment({}))
        try:
            wait_until(lambda: bot.world.log_text().count(" unavailable (") >= 5, "every list refused")
            view = opened(bot, slack.global_shortcut_payload(GLOBAL_SHORTCUT))
            assert [block["block_id"] for block in view["blocks"]] == [
                "title",
                "feedback",
                "pain_level",
                "contact_email",
                "contact_name",
                "notify",
            ]
        finally:
            assert stop(bot) == 0, bot.world.log_text()
