"""The options answered for each triage select: grouped, ranked, within Block Kit's limits, the
submitter first among the assignees — all from memory."""

from __future__ import annotations

from bot.catalog import Catalog, Entry, Kind
from bot.slack.ids import ASSIGNEE_SELECT, COMPANY_SELECT, LINK_SELECT, TAGS_SELECT
from bot.triage.suggest import suggestions


def catalog(**lists: list[Entry]) -> Catalog:
    return Catalog.of({Kind(kind): entries for kind, entries in lists.items()})


def texts(answer: dict[str, object]) -> list[str]:
    return [o["text"]["text"] for o in answer["options"]]  # type: ignore[attr-defined]


def test_an_empty_catalog_answers_with_no_options() -> None:
    empty = Catalog.off()
    for action in (COMPANY_SELECT, TAGS_SELECT, ASSIGNEE_SELECT, LINK_SELECT):
        assert suggestions(empty, action, "anything") == {"options": []}
    assert suggestions(empty, "someone_elses_select", "x") == {"options": []}


def test_link_to_is_grouped_issues_first_and_holds_at_most_100_options() -> None:
    many = catalog(
        issues=[Entry(f"is_{n}", f"Export issue {n:03}") for n in range(150)],
        projects=[Entry(f"pr_{n}", f"Export project {n:03}") for n in range(30)],
    )
    answer = suggestions(many, LINK_SELECT, "export")
    groups = answer["option_groups"]
    assert [g["label"]["text"] for g in groups] == ["Issues", "Projects"]
    # Projects need 30 of the 100: the issues get the other 70.
    assert [len(g["options"]) for g in groups] == [70, 30]
    assert groups[0]["options"][0] == {
        "text": {"type": "plain_text", "text": "Export issue 000"},
        "value": "issue:is_0",
    }
    assert groups[1]["options"][0]["value"] == "project:pr_0"

    both_full = catalog(
        issues=[Entry(f"is_{n}", f"Export {n:03}") for n in range(150)],
        projects=[Entry(f"pr_{n}", f"Export {n:03}") for n in range(150)],
    )
    assert [len(g["options"]) for g in suggestions(both_full, LINK_SELECT, "")["option_groups"]] == [50, 50]


def test_texts_and_values_stay_within_block_kit_limits() -> None:
    long_name = "Very long company name " * 10
    answer = suggestions(catalog(companies=[Entry("co_1", long_name)]), COMPANY_SELECT, "")
    assert len(answer["options"][0]["text"]["text"]) <= 75
    assert answer["options"][0]["text"]["text"].endswith("…")
    # "project:" and an id of 145 characters would make a value over 150: not offered.
    links = catalog(projects=[Entry("p" * 145, "Too long an id"), Entry("pr_1", "Fine")])
    groups = suggestions(links, LINK_SELECT, "")["option_groups"]
    assert [o["value"] for o in groups[0]["options"]] == ["project:pr_1"]


def test_finished_issues_say_so() -> None:
    answer = suggestions(catalog(issues=[Entry("is_1", "Old crash", closed=True)]), LINK_SELECT, "crash")
    assert answer["option_groups"][0]["options"][0]["text"]["text"] == "Old crash (done)"


def test_the_submitter_is_suggested_first_when_their_email_is_a_members() -> None:
    members = catalog(
        members=[
            Entry("u_a", "Alex Adams", aliases=("alex@acme.example",)),
            Entry("u_d", "Dana Whitfield", aliases=("dana@acme.example",)),
        ]
    )
    assert texts(suggestions(members, ASSIGNEE_SELECT, "", "DANA@acme.example")) == [
        "Dana Whitfield (you)",
        "Alex Adams",
    ]
    # Typing someone else's name: only what matches.
    assert texts(suggestions(members, ASSIGNEE_SELECT, "alex", "dana@acme.example")) == ["Alex Adams"]
    assert texts(suggestions(members, ASSIGNEE_SELECT, "", "nobody@else.example")) == [
        "Alex Adams",
        "Dana Whitfield",
    ]


def test_tags_and_companies_are_searched_by_words() -> None:
    tags = catalog(tags=[Entry("t1", "Churn risk"), Entry("t2", "Enterprise"), Entry("t3", "Risk review")])
    assert texts(suggestions(tags, TAGS_SELECT, "risk")) == ["Risk review", "Churn risk"]
