"""Searching one list in memory: the words typed match in any order, whatever their case and
accents, and the best matches come first.

Ranking, best first:

0. the name starts with the words as typed ("csv exp" → "CSV export stalls")
1. the name starts with one of the words, and every word starts a word of the name
2. every word starts a word of the name, anywhere ("export csv" → "Bulk CSV export")
3. every word is somewhere in the name ("port" → "Export")
4. every word is in what else the item is known by (a company's domain, a member's email)

Within a rank, open issues and projects come before finished ones, then names in alphabetical
order. Everything is prepared when a list is loaded (folded names, a map of aliases), so a search
is one pass over plain strings: a few milliseconds for 5,000 issues.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

from bot.catalog.entries import Entry

__all__ = ["KindIndex", "fold"]


def fold(text: str) -> str:
    """Lower case, accents off, punctuation as spaces: "Crème-Brûlée SA" → "creme brulee sa"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    return " ".join("".join(char if char.isalnum() else " " for char in plain).split())


class KindIndex:
    """One list, ready to search. Immutable: a refresh builds a new one and swaps it in."""

    __slots__ = ("_alias_keys", "_by_alias", "_by_id", "_keys", "entries")

    def __init__(self, entries: Iterable[Entry]) -> None:
        folded = sorted(((fold(entry.name), entry) for entry in entries), key=lambda p: (p[1].closed, p[0]))
        self.entries: tuple[Entry, ...] = tuple(entry for _, entry in folded)
        # A leading space on each key: " word" finds a word's start with one `in`.
        self._keys = [" " + key for key, _ in folded]
        self._alias_keys = [
            " " + " ".join(fold(a) for a in e.aliases) if e.aliases else "" for e in self.entries
        ]
        self._by_id = {entry.id: position for position, entry in enumerate(self.entries)}
        self._by_alias: dict[str, int] = {}
        for position, entry in enumerate(self.entries):
            for alias in entry.aliases:
                self._by_alias.setdefault(alias.lower(), position)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, item_id: str) -> Entry | None:
        position = self._by_id.get(item_id)
        return None if position is None else self.entries[position]

    def by_alias(self, alias: str) -> Entry | None:
        """The entry known by this alias exactly (a company's domain, a member's email)."""
        position = self._by_alias.get(alias.lower())
        return None if position is None else self.entries[position]

    def search(self, query: str, limit: int) -> list[Entry]:
        """The best `limit` entries for `query` (the first `limit` in order for an empty one)."""
        words = fold(query).split()
        if not words:
            return list(self.entries[:limit])
        ranked = self._ranked(words)
        return [self.entries[position] for _, position in ranked[:limit]]

    def _ranked(self, words: Sequence[str]) -> list[tuple[int, int]]:
        phrase = " " + " ".join(words)
        starts = [" " + word for word in words]
        longest = max(words, key=len)
        hits: list[tuple[int, int]] = []
        for position, key in enumerate(self._keys):
            if longest in key and all(word in key for word in words):
                if key.startswith(phrase):
                    rank = 0
                elif all(start in key for start in starts):
                    rank = 1 if any(key.startswith(start) for start in starts) else 2
                else:
                    rank = 3
                hits.append((rank, position))
            else:
                aliases = self._alias_keys[position]
                if aliases and all(word in aliases for word in words):
                    hits.append((4, position))
        hits.sort()
        return hits
