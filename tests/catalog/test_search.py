"""Searching a list in memory: words in any order, case and accents ignored, best matches first."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.catalog import Entry, KindIndex, fold


def index(*names: str, **aliases: tuple[str, ...]) -> KindIndex:
    return KindIndex(
        Entry(id=f"id{n}", name=name, aliases=aliases.get(f"id{n}", ())) for n, name in enumerate(names)
    )


def names(found: list[Entry]) -> list[str]:
    return [entry.name for entry in found]


def test_folding_drops_case_accents_and_punctuation() -> None:
    assert fold("Crème-Brûlée  SA") == "creme brulee sa"
    assert fold("Straße") == "strasse"
    assert fold("ÅNGSTRÖM, Inc.") == "angstrom inc"


def test_a_name_starting_with_the_words_comes_before_one_that_contains_them() -> None:
    found = index("Bulk CSV export", "CSV export stalls", "Export CSV to S3", "Reexport csv").search(
        "csv exp", 10
    )
    # The words as typed start the name; then a name starting with one of them; then the words
    # starting words anywhere; then "exp" inside a word.
    assert names(found) == ["CSV export stalls", "Export CSV to S3", "Bulk CSV export", "Reexport csv"]


def test_words_match_in_any_order_and_a_name_starting_with_one_of_them_ranks_higher() -> None:
    found = index("Bulk CSV export", "Export to CSV").search("csv export", 10)
    assert names(found) == ["Export to CSV", "Bulk CSV export"]


def test_case_and_accents_do_not_matter_either_way() -> None:
    companies = index("Crème Brûlée SA", "Creme Fraiche Ltd")
    assert names(companies.search("CREME brulee", 10)) == ["Crème Brûlée SA"]
    assert names(index("creme brulee").search("Crème", 10)) == ["creme brulee"]


def test_every_word_must_match() -> None:
    assert index("Export to PDF", "Import CSV").search("export csv", 10) == []


def test_aliases_are_searched_after_names() -> None:
    found = index("Acme", "Zeta Corp", id1=("acme.example",)).search("acme", 10)
    assert names(found) == ["Acme", "Zeta Corp"]  # Zeta Corp's domain says acme


def test_an_empty_query_lists_open_items_first_in_alphabetical_order() -> None:
    entries = [Entry("a", "Zebra"), Entry("b", "Apple", closed=True), Entry("c", "Mango")]
    assert names(KindIndex(entries).search("", 10)) == ["Mango", "Zebra", "Apple"]
    assert names(KindIndex(entries).search("  ", 2)) == ["Mango", "Zebra"]


def test_finished_items_come_after_open_ones_of_the_same_rank() -> None:
    entries = [Entry("a", "Export A", closed=True), Entry("b", "Export B")]
    assert names(KindIndex(entries).search("export", 10)) == ["Export B", "Export A"]


def test_lookups_by_id_and_alias() -> None:
    companies = KindIndex([Entry("co_1", "Acme", aliases=("acme.example", "acme.io"))])
    assert companies.get("co_1") == Entry("co_1", "Acme", aliases=("acme.example", "acme.io"))
    assert companies.by_alias("ACME.io") is not None
    assert companies.get("co_2") is None


def test_5000_names_are_searched_and_each_answer_holds_at_most_the_limit() -> None:
    # How fast: bench/bench_suggest.py (the index alone, and through the bot).
    words = ["export", "csv", "login", "sso", "billing", "invoice", "slow", "crash", "mobile", "dark"]
    big = KindIndex(
        Entry(f"is_{n}", f"{words[n % 10]} {words[(n * 7) % 10]} issue number {n} for {words[(n * 3) % 10]}")
        for n in range(5000)
    )
    for query in ("exp", "csv crash", "csv export", "slow mobile crash"):
        found = big.search(query, 100)
        assert len(found) <= 100, query
        assert all(all(word in fold(entry.name) for word in query.split()) for entry in found), query
    assert len(big.search("exp", 100)) == 100  # 500 names hold "export"
    assert len(big.search("csv crash", 100)) == 100  # 500 hold both, in that order
    assert big.search("csv export", 100) == []  # no name holds both
    assert "issue number 12 " in " ".join(f"{entry.name} " for entry in big.search("number 12", 100))
    assert big.search("zzz", 100) == []
    assert len(big.search("", 100)) == 100


@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=30), st.text(max_size=20))
def test_every_result_contains_every_word_typed(all_names: list[str], query: str) -> None:
    found = index(*all_names).search(query, 100)
    words = fold(query).split()
    for entry in found:
        assert all(word in fold(entry.name) for word in words)
    assert len(found) == len({entry.id for entry in found})
