"""List answers in the shapes Productlane documents for GET /threads, and in those it might use for
the lists whose answers are not documented (the triage catalog's)."""

from __future__ import annotations

import pytest

from bot.productlane import ListPage, ProductlaneClient, UnexpectedResponseError
from bot.productlane.models import read_list_page
from tests.fakes.productlane import FakeProductlane
from tests.fakes.productlane_catalog import CATALOG_SCOPES

ITEM = {"id": "t1", "name": "export"}


@pytest.mark.parametrize(
    ("body", "cursor"),
    [
        ({"data": [ITEM], "page": {"cursor": "c2", "has_more": True, "limit": 1}}, "c2"),
        ({"data": [ITEM], "page": {"cursor": "c2", "has_more": False}}, None),
        ({"data": [ITEM], "page": {"cursor": None, "has_more": False}}, None),
        ([ITEM], None),
        ({"items": [ITEM], "next_cursor": "c2"}, "c2"),
        ({"data": {"items": [ITEM], "pagination": {"next_cursor": "c2", "has_more": True}}}, "c2"),
        ({"results": [ITEM, "not an item"], "cursor": 7}, "7"),
    ],
)
def test_every_shape_gives_the_items_and_where_the_next_page_starts(body: object, cursor: str | None) -> None:
    assert read_list_page(body) == ListPage(items=[ITEM], cursor=cursor)


def test_an_answer_without_a_list_is_none() -> None:
    assert read_list_page({"data": {"id": "t1"}}) is None
    assert read_list_page("nope") is None


def test_the_client_reads_a_page_and_refuses_an_answer_without_a_list() -> None:
    with FakeProductlane(scopes=CATALOG_SCOPES) as fake, ProductlaneClient(fake.api_key, fake.url) as client:
        fake.catalog.add_tag("export", tag_id="t1")
        page = client.list_page("tags", limit=10)
        assert [item["name"] for item in page.items] == ["export"]
        assert page.cursor is None
        assert fake.requests_to("GET", "/tags")[-1].query == {"limit": ["10"]}
        fake.catalog.answer_shape["tags"] = lambda body: {"data": {"id": "t1"}}
        with pytest.raises(UnexpectedResponseError):
            client.list_page("tags")
