"""A Productlane workspace with something to triage with, and the bot that serves it: the fake's
companies, issues, projects, tags and members, a key that may read them, and a bot that refreshes
its catalog every second."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.feedback.form import Field
from bot.slack.views import field_of
from bot.triage.fields import ACTIONS
from tests.fakes.productlane import FakeProductlane
from tests.fakes.productlane_catalog import CATALOG_SCOPES
from tests.running_bot import World, interact, wait_until

SCOPES = ("threads:read", "threads:write", *CATALOG_SCOPES)
LISTS = ("companies", "projects", "issues", "tags", "members")


@dataclass
class Seeded:
    """The ids of what `seed` put in the workspace, by a short name."""

    ids: dict[str, str]

    def __getitem__(self, name: str) -> str:
        return self.ids[name]


def seed(productlane: FakeProductlane) -> Seeded:
    catalog = productlane.catalog
    ids = {
        "customer": catalog.add_company("Customer Co", ("customer.example",))["id"],
        "creme": catalog.add_company("Crème Brûlée SA", ("creme.example",))["id"],
        "bigco": catalog.add_company("Big Customer Inc", ("bigcustomer.example",))["id"],
        "acme_widgets": catalog.add_company("Acme Widgets", ("widgets.example",))["id"],
        "csv_issue": productlane.seed_issue("CSV export stalls at 99%")["id"],
        "bulk_issue": productlane.seed_issue("Bulk CSV export for admins")["id"],
        "pdf_issue": productlane.seed_issue("Export to PDF")["id"],
        "exports_project": productlane.seed_project("Exports v2")["id"],
        "sso_project": productlane.seed_project("Single sign-on")["id"],
        "export_tag": catalog.add_tag("export")["id"],
        "enterprise_tag": catalog.add_tag("enterprise")["id"],
        "churn_tag": catalog.add_tag("churn risk")["id"],
        "dana": catalog.add_member("Dana Whitfield", "dana@acme.example")["id"],
        "sam": catalog.add_member("Sam Okafor", "sam@acme.example")["id"],
    }
    return Seeded(ids)


def triage_environment(env: dict[str, str]) -> dict[str, str]:
    return env | {"CATALOG_REFRESH_SECONDS": "1"}


def wait_for_catalog(world: World, lists: tuple[str, ...] = LISTS, timeout: float = 30) -> None:
    """Until the bot has loaded each list (its log says so)."""
    wait_until(
        lambda: all(f"catalog: {name} refreshed" in world.log_text() for name in lists),
        f"the catalog ({', '.join(lists)})",
        timeout=timeout,
    )


def suggest(world: World, action_id: str, value: str, **options: Any) -> dict[str, Any]:
    """Slack's options request for a select, and the bot's answer (the ack's payload)."""
    # How fast (Slack waits 3 s for the options): bench/bench_suggest.py.
    ack = interact(world, world.slack.block_suggestion_payload(action_id, value, **options))
    payload = ack.get("payload")
    assert isinstance(payload, dict), ack
    return payload


def labels(answer: dict[str, Any]) -> list[str]:
    return [option["text"]["text"] for option in answer.get("options", [])]


def groups(answer: dict[str, Any]) -> dict[str, list[str]]:
    return {
        group["label"]["text"]: [option["text"]["text"] for option in group["options"]]
        for group in answer.get("option_groups", [])
    }


def submit(world: World, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """`running_bot.submit`, knowing that a triage field's select has an action id of its own
    (``triage_company`` in the block ``company``): {field: value} for every field alike."""
    blocks = {field_of(block["block_id"]): block for block in view["blocks"] if "block_id" in block}
    state = {}
    for field, value in values.items():
        block = blocks.get(field)
        action = ACTIONS.get(Field(field)) if field in Field.__members__.values() else None
        state[block["block_id"] if block else field] = {action or field: value}
    return interact(world, world.slack.view_submission_payload(view["id"], state))


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text}, "value": value}
