"""The App Home in the fake Slack Web API: `views.publish`, as Slack answers it.

Hooked into `FakeSlackWebAPI` by `home_methods(fake)`; each person's latest Home view is kept in
``fake.homes`` (by user id). A published view is checked against the limits Slack enforces on Home
tabs (https://docs.slack.dev/reference/block-kit/blocks): at most 100 blocks, a section's text 3,000
characters and its fields 10 of 2,000, a header's 150, a context's 10 elements, a button's text 75
and its value 2,000; `views.publish` refuses a view that breaks one with ``invalid_arguments``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.slack import Call, FakeSlackWebAPI

JSONDict = dict[str, Any]

SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
FIELDS_MAX = 10
HEADER_TEXT_MAX = 150
CONTEXT_ELEMENTS_MAX = 10
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
BLOCK_ID_MAX = 255


def block_kit_problems(blocks: list[Any]) -> list[str]:
    """What in ``blocks`` Slack would refuse (text lengths, counts), as its error messages say it."""
    problems: list[str] = []

    def text_of(obj: Any) -> str:
        return str((obj or {}).get("text") or "") if isinstance(obj, Mapping) else ""

    def button(element: Mapping[str, Any], where: str) -> None:
        if element.get("type") != "button":
            return
        if len(text_of(element.get("text"))) > BUTTON_TEXT_MAX:
            problems.append(f"must be less than {BUTTON_TEXT_MAX + 1} characters [{where}/text/text]")
        if len(str(element.get("value") or "")) > BUTTON_VALUE_MAX:
            problems.append(f"must be less than {BUTTON_VALUE_MAX + 1} characters [{where}/value]")

    for index, block in enumerate(blocks):
        where = f"json-pointer:/view/blocks/{index}"
        if not isinstance(block, Mapping):
            problems.append(f"must be an object [{where}]")
            continue
        if len(str(block.get("block_id") or "")) > BLOCK_ID_MAX:
            problems.append(f"must be less than {BLOCK_ID_MAX + 1} characters [{where}/block_id]")
        kind = block.get("type")
        if kind == "section":
            if len(text_of(block.get("text"))) > SECTION_TEXT_MAX:
                problems.append(f"must be less than {SECTION_TEXT_MAX + 1} characters [{where}/text/text]")
            fields = block.get("fields") or []
            if len(fields) > FIELDS_MAX:
                problems.append(f"must be at most {FIELDS_MAX} items [{where}/fields]")
            if any(len(text_of(field)) > FIELD_TEXT_MAX for field in fields):
                problems.append(f"must be less than {FIELD_TEXT_MAX + 1} characters [{where}/fields]")
            if not block.get("text") and not fields:
                problems.append(f"must provide either text or fields [{where}]")
            if isinstance(block.get("accessory"), Mapping):
                button(block["accessory"], f"{where}/accessory")
        elif kind == "header":
            if len(text_of(block.get("text"))) > HEADER_TEXT_MAX:
                problems.append(f"must be less than {HEADER_TEXT_MAX + 1} characters [{where}/text/text]")
        elif kind == "context":
            if len(block.get("elements") or []) > CONTEXT_ELEMENTS_MAX:
                problems.append(f"must be at most {CONTEXT_ELEMENTS_MAX} items [{where}/elements]")
        elif kind == "actions":
            for number, element in enumerate(block.get("elements") or []):
                if isinstance(element, Mapping):
                    button(element, f"{where}/elements/{number}")
    return problems


def home_methods(fake: FakeSlackWebAPI) -> dict[str, tuple[str, Callable[[Call], JSONDict]]]:
    """`views.publish` for the fake; its Homes in ``fake.homes``."""
    from tests.fakes.slack import _invalid_arguments, _SlackError

    def views_publish(call: Call) -> JSONDict:
        user_id = str(call.params.get("user_id") or "")
        if not user_id:
            raise _invalid_arguments("missing required field: user_id")
        if user_id not in fake.users:
            raise _invalid_arguments("invalid `user_id`")
        view = fake._view_param(call)
        if view.get("type") != "home":
            raise _invalid_arguments("must be home [json-pointer:/view/type]")
        problems = block_kit_problems(list(view.get("blocks") or []))
        if problems:
            raise _invalid_arguments(*problems)
        current = fake.homes.get(user_id)
        given_hash = call.params.get("hash")
        if given_hash and current is not None and given_hash != current["hash"]:
            raise _SlackError("hash_conflict")
        stored = fake._store_view(view, view_id=current["id"] if current is not None else None)
        fake.homes[user_id] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    return {"views.publish": ("bot", views_publish)}


def app_home_opened_payload(slack: Any, user_id: str, *, tab: str = "home") -> JSONDict:
    """The `event_callback` Slack sends when ``user_id`` opens the bot's App Home (from the
    fixture ``app_home_opened.json``): ``tab`` "home", or "messages" for the Messages tab."""
    from tests.fakes.slack import load_fixture

    event = copy.deepcopy(load_fixture("app_home_opened")["envelope"]["payload"]["event"])
    event.update(user=user_id, tab=tab, channel="D" + user_id[1:])
    payload: JSONDict = slack.events_api_payload(event)
    return payload
