"""A Slack rich_text block (a message's, or a modal rich_text_input's value) → document blocks.

rich_text text is raw: "Chrome & Safari" means exactly that, so nothing here decodes entities.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.render.document import (
    Block,
    Inline,
    ListBlock,
    ListItem,
    Paragraph,
    Preformatted,
    Quote,
    Style,
    Text,
    as_int,
    as_list,
    as_str,
    date_text,
    link,
    text,
)
from bot.render.emoji_glyphs import glyph_from_hex, glyph_from_shortcode
from bot.render.names import NameResolver, channel_mention, user_mention, usergroup_mention

_STYLES = (
    ("bold", Style.BOLD),
    ("italic", Style.ITALIC),
    ("strike", Style.STRIKE),
    ("underline", Style.UNDERLINE),
    ("code", Style.CODE),
)
_MAX_INDENT = 8  # Slack's deepest list level
_MAX_OFFSET = 999_999  # far beyond any real list; keeps `start` a short number


def rich_text_blocks(block: Any, names: NameResolver) -> list[Block]:
    """The block's sections, lists, code and quotes, in order."""
    if not isinstance(block, Mapping):
        return []
    out: list[Block] = []
    lists = _ListNesting(out)
    for element in as_list(block.get("elements")):
        if not isinstance(element, Mapping):
            continue
        kind = element.get("type")
        if kind == "rich_text_list":
            lists.add(element, names)
            continue
        lists.close()
        inlines = inline_elements(element.get("elements"), names)
        if kind == "rich_text_preformatted":
            out.append(Preformatted(inlines))
        elif kind == "rich_text_quote":
            out.append(Quote([Paragraph(_without_final_newline(inlines))]))
        else:
            # rich_text_section, or a kind Slack adds later: its text still shows.
            if not inlines and isinstance(element.get("text"), str):
                inlines = [text(element["text"])]
            out.append(Paragraph(_without_final_newline(inlines)))
    return out


def inline_elements(elements: Any, names: NameResolver) -> list[Inline]:
    out: list[Inline] = []
    for element in as_list(elements):
        if isinstance(element, Mapping):
            node = _inline(element, names)
            if node is not None:
                out.append(node)
    return out


def _inline(element: Mapping[str, Any], names: NameResolver) -> Inline | None:
    style = _style(element.get("style"))
    kind = element.get("type")
    if kind == "text":
        raw = as_str(element.get("text"))
    elif kind == "link":
        return link(as_str(element.get("url")), as_str(element.get("text")), style)
    elif kind == "user":
        user_id = as_str(element.get("user_id"))
        raw = user_mention(names, user_id) if user_id else ""
    elif kind == "channel":
        channel_id = as_str(element.get("channel_id"))
        raw = channel_mention(names, channel_id) if channel_id else ""
    elif kind == "usergroup":
        usergroup_id = as_str(element.get("usergroup_id"))
        raw = usergroup_mention(names, usergroup_id) if usergroup_id else ""
    elif kind == "broadcast":
        scope = as_str(element.get("range"))
        raw = f"@{scope}" if scope else ""
    elif kind == "emoji":
        raw = _emoji(element)
    elif kind == "date":
        label = as_str(element.get("fallback")) or date_text(element.get("timestamp"))
        url = as_str(element.get("url"))
        return link(url, label, style) if url else (text(label, style) if label else None)
    elif kind == "color":
        raw = as_str(element.get("value"))
    else:
        raw = as_str(element.get("text"))
    return text(raw, style) if raw else None


def _style(style: Any) -> int:
    if not isinstance(style, Mapping):
        return 0
    flags = 0
    for key, flag in _STYLES:
        if style.get(key) is True:
            flags |= flag
    return flags


def _emoji(element: Mapping[str, Any]) -> str:
    name = as_str(element.get("name"))
    code = as_str(element.get("unicode"))
    glyph = glyph_from_hex(code) if code else None
    if glyph is None and name:
        glyph = glyph_from_shortcode(name, as_int(element.get("skin_tone"), 0, 0, 6))
    # A custom emoji has no glyph anywhere: its name is what people recognise.
    return glyph or (f":{name}:" if name else "")


def _without_final_newline(inlines: list[Inline]) -> list[Inline]:
    # Slack ends a section with "\n" when a list or quote follows; the block break already says so.
    if inlines and isinstance(inlines[-1], Text) and inlines[-1].text.endswith("\n"):
        last = inlines[-1]
        inlines[-1] = last._replace(text=last.text[:-1])
    return inlines


class _ListNesting:
    """Slack sends a nested list as flat sibling rich_text_list elements, each with an `indent`.

    This rebuilds the tree: a deeper list belongs to the last item above it; a list at the same
    level with the same kind continues it (ordered ones only when `offset` says the numbering goes
    on); any other block ends the run.
    """

    def __init__(self, out: list[Block]) -> None:
        self._out = out
        self._open: list[tuple[int, ListBlock]] = []  # (indent, list), shallowest first

    def close(self) -> None:
        self._open.clear()

    def add(self, element: Mapping[str, Any], names: NameResolver) -> None:
        items = [
            ListItem(_without_final_newline(inline_elements(item.get("elements"), names)))
            for item in as_list(element.get("elements"))
            if isinstance(item, Mapping)
        ]
        if not items:
            return
        indent = as_int(element.get("indent"), 0, 0, _MAX_INDENT)
        ordered = element.get("style") == "ordered"
        offset = as_int(element.get("offset"), 0, 0, _MAX_OFFSET)
        while self._open and self._open[-1][0] > indent:
            self._open.pop()
        if self._open and self._open[-1][0] == indent:
            current = self._open[-1][1]
            if current.ordered == ordered and (
                not ordered or offset == current.start - 1 + len(current.items)
            ):
                current.items.extend(items)
                return
            self._open.pop()
        new = ListBlock(ordered=ordered, start=offset + 1, items=items)
        if self._open:
            # A deeper list than its parent: it belongs inside the parent's last item, even when
            # Slack skipped a level (indent 0 then 2).
            self._open[-1][1].items[-1].children.append(new)
        else:
            self._out.append(new)
        self._open.append((indent, new))
