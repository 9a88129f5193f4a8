"""HTML from Productlane (a team member's reply) → Slack mrkdwn. Pure, and never raises.

The reverse of the rest of this package: Productlane's editor writes a paragraph per line, lists,
links, bold and code; Slack shows mrkdwn. What Slack cannot show becomes words: a picture or an
attachment becomes a link, a table's cells are joined by " | ", anything else keeps its text.

Slack text is data here too: every piece of text is escaped (``&``, ``<`` and ``>``, the only
characters mrkdwn gives a meaning to inside ``<…>``), so nothing in a reply can become a mention,
a ``<!channel>`` or a link it did not hold; a link keeps only an http(s) or mailto target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import TypeGuard

from bot.render.document import clean_text, safe_url
from bot.render.fallback import converted

__all__ = ["html_to_mrkdwn", "mrkdwn_text"]

_VOID = frozenset({"br", "img", "hr", "input", "meta", "link", "wbr", "col", "source", "area"})
_DROPPED = frozenset({"script", "style", "head", "title", "template", "noscript", "iframe", "object"})
_BLOCKS = frozenset(
    {
        *("p", "div", "section", "article", "header", "footer", "main", "aside", "figure", "figcaption"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre", "hr", "table"),
        *("thead", "tbody", "tfoot", "tr", "dl", "dt", "dd", "details", "summary"),
    }
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "summary", "dt"})
_MARKS = {"strong": "*", "b": "*", "em": "_", "i": "_", "s": "~", "del": "~", "strike": "~"}
_BULLETS = ("•", "◦", "▪")
_INDENT = "    "
_SPACES = re.compile(r"\s+")
_BLANK_RUNS = re.compile(r"\n{3,}")


def mrkdwn_text(text: str) -> str:
    """Plain text made safe for mrkdwn: the three characters Slack reads as markup are escaped."""
    return clean_text(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[_Node | str] = field(default_factory=list)


class _TreeBuilder(HTMLParser):
    """A forgiving tree: a stray end tag closes up to its opener, unclosed tags close at the end."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("root")
        self._open: list[_Node] = [self.root]
        self._dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self._dropping += 1
            return
        if self._dropping:
            return
        node = _Node(tag, {name: value or "" for name, value in attrs})
        self._open[-1].children.append(node)
        if tag not in _VOID:
            self._open.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED or self._dropping:
            return
        self._open[-1].children.append(_Node(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self._dropping = max(0, self._dropping - 1)
            return
        if self._dropping or tag in _VOID:
            return
        for depth in range(len(self._open) - 1, 0, -1):
            if self._open[depth].tag == tag:
                del self._open[depth:]
                return

    def handle_data(self, data: str) -> None:
        if not self._dropping:
            self._open[-1].children.append(data)


def _is_block(node: _Node | str) -> bool:
    return isinstance(node, _Node) and node.tag in _BLOCKS


def _is_list(node: _Node | str) -> TypeGuard[_Node]:
    return isinstance(node, _Node) and node.tag in ("ul", "ol")


def _plain(node: _Node | str) -> str:
    """Every word under a node, whitespace collapsed (a link's label)."""
    if isinstance(node, str):
        return node
    if node.tag == "br":
        return " "
    return "".join(_plain(child) for child in node.children)


def _wrap(marker: str, inner: str) -> str:
    """``*bold*`` per line: mrkdwn marks must hug the words and cannot span a line break."""
    lines = []
    for line in inner.split("\n"):
        words = line.strip()
        if not words:
            lines.append(line)
            continue
        lead = line[: len(line) - len(line.lstrip())]
        trail = line[len(line.rstrip()) :]
        lines.append(f"{lead}{marker}{words}{marker}{trail}")
    return "\n".join(lines)


def _link(href: str, label: str) -> str:
    target = safe_url(href)
    words = mrkdwn_text(_SPACES.sub(" ", label).strip())
    if target is None:
        return words
    # Inside <url|label> a "|" or ">" would end the label early.
    target = target.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C").replace("&", "&amp;")
    shown = words.replace("|", "¦")
    return f"<{target}|{shown}>" if shown and shown != mrkdwn_text(target) else f"<{target}>"


class _Writer:
    def inline(self, nodes: list[_Node | str], marks: frozenset[str]) -> str:
        out: list[str] = []
        for node in nodes:
            if isinstance(node, str):
                out.append(mrkdwn_text(_SPACES.sub(" ", node)))
                continue
            tag = node.tag
            if tag == "br":
                out.append("\n")
            elif tag == "img":
                src = node.attrs.get("src", "")
                alt = node.attrs.get("alt", "").strip()
                link = _link(src, f"Image: {alt}" if alt else "Image")
                out.append(f" {link} " if safe_url(src) else (mrkdwn_text(alt) if alt else ""))
            elif tag == "a":
                out.append(_link(node.attrs.get("href", ""), _plain(node)))
            elif tag == "code":
                code = mrkdwn_text(_plain(node)).replace("`", "'").strip()
                out.append(f"`{code}`" if code else "")
            elif tag in _MARKS and _MARKS[tag] not in marks:
                marker = _MARKS[tag]
                out.append(_wrap(marker, self.inline(node.children, marks | {marker})))
            elif _is_block(node):
                out.append("\n" + "\n".join(self.blocks([node], 0, marks)) + "\n")
            else:
                out.append(self.inline(node.children, marks))
        return "".join(out)

    def paragraph(self, nodes: list[_Node | str], marks: frozenset[str]) -> list[str]:
        text = self.inline(nodes, marks)
        return [line.strip() for line in text.split("\n")]

    def blocks(self, nodes: list[_Node | str], depth: int, marks: frozenset[str] = frozenset()) -> list[str]:
        """The lines of a run of nodes: inline runs become paragraphs, blocks their own lines."""
        lines: list[str] = []
        run: list[_Node | str] = []

        def flush() -> None:
            if any(not isinstance(node, str) or node.strip() for node in run):
                lines.extend(self.paragraph(run, marks))
            run.clear()

        for node in nodes:
            if not _is_block(node):
                run.append(node)
                continue
            flush()
            assert isinstance(node, _Node)  # noqa: S101 - _is_block says so
            lines.extend(self.block(node, depth, marks))
        flush()
        return lines

    def block(self, node: _Node, depth: int, marks: frozenset[str]) -> list[str]:
        tag = node.tag
        if tag in _HEADINGS:
            lines = self.paragraph(node.children, marks)
            return lines if "*" in marks else [_wrap("*", line) for line in lines]
        if tag in ("ul", "ol"):
            return self.list(node, depth, marks)
        if tag == "li":  # an item outside a list
            return self.list(_Node("ul", children=[node]), depth, marks)
        if tag == "blockquote":
            return [f"> {line}" if line else ">" for line in self.blocks(node.children, depth, marks)]
        if tag == "pre":
            code = clean_text(_plain(node)).strip("\n").replace("```", "'''")
            return ["```", *mrkdwn_text(code).split("\n"), "```"] if code.strip() else []
        if tag == "hr":
            return ["———"]
        if tag == "tr":
            cells = [
                self.inline(cell.children, marks).replace("\n", " ").strip()
                for cell in node.children
                if isinstance(cell, _Node) and cell.tag in ("td", "th")
            ]
            return [" | ".join(cells)] if any(cells) else []
        return self.blocks(node.children, depth, marks)

    def list(self, node: _Node, depth: int, marks: frozenset[str]) -> list[str]:
        ordered = node.tag == "ol"
        start = node.attrs.get("start", "1")
        number = int(start) if start.isascii() and start.isdigit() and len(start) <= 6 else 1
        indent = _INDENT * depth
        lines: list[str] = []
        for item in node.children:
            if not isinstance(item, _Node) or item.tag != "li":
                if _is_list(item):  # a list right inside a list
                    lines.extend(self.list(item, depth + 1, marks))
                continue
            marker = f"{number}." if ordered else _BULLETS[min(depth, len(_BULLETS) - 1)]
            number += 1
            nested = [child for child in item.children if _is_list(child)]
            own = [child for child in item.children if not _is_list(child)]
            body = [line for line in self.blocks(own, depth + 1, marks) if line.strip()]
            first, rest = (body[0], body[1:]) if body else ("", [])
            lines.append(f"{indent}{marker} {first}".rstrip())
            lines.extend(f"{indent}{_INDENT}{line}" for line in rest)
            for child in nested:
                lines.extend(self.list(child, depth + 1, marks))
        return lines


def html_to_mrkdwn(html: str) -> str:
    """``html`` as Slack mrkdwn: paragraphs a line each, lists, quotes, code, links; pictures and
    attachments as links. Empty when the HTML holds no words."""

    def convert() -> str:
        builder = _TreeBuilder()
        builder.feed(html if isinstance(html, str) else "")
        builder.close()
        lines = _Writer().blocks(builder.root.children, 0)
        text = "\n".join(line.rstrip() for line in lines)
        return _BLANK_RUNS.sub("\n\n", text).strip("\n")

    def fallback() -> str:
        return mrkdwn_text(_SPACES.sub(" ", re.sub(r"<[^>]*>", " ", html or ""))).strip()

    return converted(convert, fallback, "HTML to mrkdwn")
