"""HTML from Productlane (a team member's reply) → Slack mrkdwn. Pure, and never raises.

The reverse of the rest of this package: Productlane's editor writes a paragraph per line, lists,
links, bold and code; Slack shows mrkdwn. What Slack cannot show becomes words: a picture or an
attachment becomes a link, a table's cells are joined by " | ", anything else keeps its text.

Slack text is data here too: every piece of text is escaped (``&``, ``<`` and ``>``, the only
characters mrkdwn gives a meaning to inside ``<…>``), so nothing in a reply can become a mention,
a ``<!channel>`` or a link it did not hold; a link keeps only an http(s) or mailto target.

The HTML is whatever reached the webhook, so the work is bounded whatever it holds: only the first
`HTML_BUDGET` characters are read (a reply shows a few thousand at most), the tokenizer below reads
each character a bounded number of times (html.parser is quadratic on unclosed constructs: "<a"
or "<!--" repeated rescans the rest of the input at each one), and elements nest at most
`MAX_NESTING` deep, so the writer's recursion stays far from Python's limit.
"""

from __future__ import annotations

import html as html_module
import re
from dataclasses import dataclass, field
from typing import Final, TypeGuard

from bot.render.document import clean_text, honest_label, safe_url
from bot.render.fallback import converted

__all__ = ["HTML_BUDGET", "MAX_NESTING", "Converted", "convert_html", "html_to_mrkdwn", "mrkdwn_text"]

# Slack folds a message away past about 4,000 characters and a reply shows at most 3,500; ten times
# that in HTML holds them even when markup (links, lists of paragraphs) outweighs the words.
HTML_BUDGET: Final = 35_000
# Deeper than any editor writes (lists in lists, marks in links); past it, tags are ignored and
# their words kept, so the writer recurses a few frames a level at most.
MAX_NESTING: Final = 48

_VOID = frozenset({"br", "img", "hr", "input", "meta", "link", "wbr", "col", "source", "area"})
_DROPPED = frozenset({"script", "style", "head", "title", "template", "noscript", "iframe", "object"})
# Elements whose content is text up to their end tag, never markup (all dropped here).
_RAW_TEXT = {name: re.compile(rf"</{name}(?=[\s/>])", re.IGNORECASE) for name in ("script", "style")}
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

# A whole start tag: its name, then anything up to the ">" that is not inside a quoted value.
# Possessive quantifiers: a tag that never ends fails in one pass, without backtracking.
_START_TAG = re.compile(r"""<([a-zA-Z][^\s/>]*+)((?:[^>"']++|"[^"]*+"|'[^']*+')*+)>""")
_END_TAG_NAME = re.compile(r"[^\s/>]*+")
# One attribute inside a start tag: a name (anything up to a space, "/", ">" or "=") and its value.
_ATTRIBUTE = re.compile(r"""[\s/]*+([^\s/>][^\s/>=]*+)(?:\s*+=\s*+("[^"]*+"|'[^']*+'|[^\s>]*+))?""")
# The fallback's tags: never past the next "<", so "<a" repeated is one pass, not one per "<".
_ANY_TAG = re.compile(r"<[^<>]*>")


def mrkdwn_text(text: str) -> str:
    """Plain text made safe for mrkdwn: the three characters Slack reads as markup are escaped."""
    return clean_text(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[_Node | str] = field(default_factory=list)


class _TreeBuilder:
    """A forgiving tree: a stray end tag closes up to its opener, unclosed tags close at the end.
    Each call costs O(1) amortised: end tags with nothing open to close are ignored at a glance
    (a count per open tag name), and each node is closed once."""

    def __init__(self) -> None:
        self.root = _Node("root")
        self._open: list[_Node] = [self.root]
        self._open_by_tag: dict[str, int] = {}
        self._dropping = 0

    def start(self, tag: str, attrs: dict[str, str], self_closing: bool) -> None:
        if tag in _DROPPED:
            if not self_closing:
                self._dropping += 1
            return
        if self._dropping:
            return
        if tag in _VOID or self_closing:
            self._open[-1].children.append(_Node(tag, attrs))
            return
        if len(self._open) > MAX_NESTING:
            return  # its words go to the deepest element kept
        node = _Node(tag, attrs)
        self._open[-1].children.append(node)
        self._open.append(node)
        self._open_by_tag[tag] = self._open_by_tag.get(tag, 0) + 1

    def end(self, tag: str) -> None:
        if tag in _DROPPED:
            self._dropping = max(0, self._dropping - 1)
            return
        if self._dropping or not self._open_by_tag.get(tag):
            return
        while True:
            node = self._open.pop()
            self._open_by_tag[node.tag] -= 1
            if node.tag == tag:
                return

    def text(self, data: str) -> None:
        if not self._dropping and data:
            self._open[-1].children.append(html_module.unescape(data))


def _attributes(raw: str) -> tuple[dict[str, str], bool]:
    """A start tag's attributes (the first of a repeated name wins) and whether it ends in "/"."""
    attrs: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(raw):
        name, value = match.group(1).lower(), match.group(2) or ""
        if name == "/":
            continue
        if value[:1] in ('"', "'"):
            value = value[1:-1]
        attrs.setdefault(name, html_module.unescape(value))
    return attrs, raw.rstrip().endswith("/")


def _tokenize(html: str, builder: _TreeBuilder) -> None:
    """Feed ``html`` to ``builder`` in one pass, as browsers read it in the main: a construct the
    input ends inside (a tag, a comment) is dropped with the rest, comments, declarations and
    processing instructions are skipped, a "<" that starts none of them is text."""
    pos, size = 0, len(html)
    while pos < size:
        lt = html.find("<", pos)
        if lt < 0:
            builder.text(html[pos:])
            return
        if lt > pos:
            builder.text(html[pos:lt])
        following = html[lt + 1 : lt + 2]
        if following.isascii() and following.isalpha():
            tag = _START_TAG.match(html, lt)
            if tag is None:
                return  # the input ends inside this tag
            name = tag.group(1).lower()
            attrs, self_closing = _attributes(tag.group(2))
            pos = tag.end()
            raw_end = _RAW_TEXT.get(name)
            if raw_end is not None and not self_closing:
                found = raw_end.search(html, pos)
                close = html.find(">", found.end()) if found is not None else -1
                if close < 0:
                    return  # never closed: the rest is its (dropped) content
                pos = close + 1
                continue
            builder.start(name, attrs, self_closing)
        elif following == "/":
            close = html.find(">", lt + 2)
            if close < 0:
                if lt + 2 == size:
                    builder.text("</")
                return
            name_start = html[lt + 2 : lt + 3]
            if name_start.isascii() and name_start.isalpha():
                name = _END_TAG_NAME.match(html, lt + 2)
                if name is not None:
                    builder.end(name.group().lower())
            pos = close + 1
        elif html.startswith("<!--", lt):
            if html.startswith(("<!-->", "<!--->"), lt):
                pos = html.find(">", lt + 4) + 1
                continue
            close = html.find("-->", lt + 4)
            if close < 0:
                return  # an unclosed comment holds the rest
            pos = close + 3
        elif following in ("!", "?"):
            close = html.find(">", lt + 2)
            if close < 0:
                return
            pos = close + 1
        else:
            builder.text("<")
            pos = lt + 1


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
    plain = _SPACES.sub(" ", label).strip()
    if target is None:
        return mrkdwn_text(plain)
    words = mrkdwn_text(honest_label(target, plain))
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


@dataclass(frozen=True)
class Converted:
    text: str
    cut: bool  # the HTML was longer than the budget: only its beginning was read


def convert_html(html: str, *, max_html_chars: int = HTML_BUDGET) -> Converted:
    """``html`` as Slack mrkdwn: paragraphs a line each, lists, quotes, code, links; pictures and
    attachments as links. Only the first ``max_html_chars`` characters are read; what they opened
    is closed. Empty text when the HTML holds no words."""
    whole = html if isinstance(html, str) else ""
    read = whole[:max_html_chars]
    if len(whole) > len(read):
        # Cut where a word or a tag starts, never inside one (nor inside a character reference):
        # the last words read are whole ones.
        boundary = max(read.rfind("<"), read.rfind(" "), read.rfind("\n"), read.rfind("\t"))
        read = read[:boundary] if boundary > 0 else read

    def convert() -> str:
        builder = _TreeBuilder()
        _tokenize(read, builder)
        lines = _Writer().blocks(builder.root.children, 0)
        text = "\n".join(line.rstrip() for line in lines)
        return _BLANK_RUNS.sub("\n\n", text).strip("\n")

    def fallback() -> str:
        return mrkdwn_text(_SPACES.sub(" ", _ANY_TAG.sub(" ", read))).strip()

    return Converted(converted(convert, fallback, "HTML to mrkdwn"), cut=len(whole) > max_html_chars)


def html_to_mrkdwn(html: str, *, max_html_chars: int = HTML_BUDGET) -> str:
    """`convert_html`'s text."""
    return convert_html(html, max_html_chars=max_html_chars).text
