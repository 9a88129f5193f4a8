"""Slack mrkdwn (a message's `text`, section and attachment text) → document blocks.

mrkdwn is entity-encoded: Slack sends a typed "&" as `&amp;` and "<" as `&lt;`, and a raw `<…>` is
always one of its tokens (a link, a mention, a date). So tokens are found first, then the text
between them is decoded exactly once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.render.document import (
    Block,
    Inline,
    Paragraph,
    Preformatted,
    Quote,
    Style,
    Text,
    date_text,
    link,
    text,
)
from bot.render.emoji_glyphs import glyph_from_shortcode
from bot.render.names import NameResolver, channel_mention, user_mention, usergroup_mention

_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_FENCE = re.compile(r"```(.+?)```", re.DOTALL)
_QUOTE_REST = re.compile(r"(?:&gt;|>){3}[ \t]?")  # `>>>` quotes everything after it
_QUOTE_LINE = re.compile(r"(?:&gt;|>)[ \t]?")
_TOKEN = re.compile(r"<([^<>\n]*)>")
_INLINE = re.compile(
    r"<(?P<token>[^<>\n]*)>"
    r"|`(?P<code>[^`\n]+)`"
    r"|:(?P<emoji>[a-z0-9_+'\-]{1,64}):(?::skin-tone-(?P<tone>[2-6]):)?"
    r"|(?P<mark>[*_~])"
)
_MARK_STYLES = {"*": Style.BOLD, "_": Style.ITALIC, "~": Style.STRIKE}
_BROADCASTS = frozenset({"here", "channel", "everyone"})


def decode_entities(raw: str) -> str:
    """Undo Slack's encoding once: `&amp;lt;` is the text "&lt;", never "<"."""
    return _ENTITY.sub(lambda match: _ENTITIES[match.group(1)], raw) if "&" in raw else raw


def mrkdwn_blocks(raw: str, names: NameResolver) -> list[Block]:
    """Paragraphs, ``` code blocks and > quotes, with inline formatting inside."""
    blocks: list[Block] = []
    position = 0
    for fence in _FENCE.finditer(raw):
        blocks.extend(_text_blocks(raw[position : fence.start()], names))
        code = fence.group(1).removeprefix("\n").removesuffix("\n")
        if code.strip():
            blocks.append(Preformatted(_code_inlines(code, names, 0)))
        position = fence.end()
    blocks.extend(_text_blocks(raw[position:], names))
    return blocks


def mrkdwn_inlines(raw: str, names: NameResolver) -> list[Inline]:
    """Inline formatting only, line breaks kept: for fields and context, which hold no blocks."""
    return _lines_inlines(raw.split("\n"), names)


def _text_blocks(segment: str, names: NameResolver) -> list[Block]:
    groups: list[tuple[bool, list[str]]] = []  # (quoted, lines)
    lines = segment.split("\n")
    for index, line in enumerate(lines):
        if rest := _QUOTE_REST.match(line):
            _add_line(groups, True, [line[rest.end() :], *lines[index + 1 :]])
            break
        if quote := _QUOTE_LINE.match(line):
            _add_line(groups, True, [line[quote.end() :]])
        else:
            _add_line(groups, False, [line])
    blocks: list[Block] = []
    for quoted, group in groups:
        while group and not group[-1].strip():
            group.pop()
        first = next((i for i, line in enumerate(group) if line.strip()), len(group))
        if first == len(group):
            continue
        lines = group[first:]
        # Spaces at a paragraph's edges show nowhere; around a ``` block they are only spacing.
        lines[0] = lines[0].lstrip()
        lines[-1] = lines[-1].rstrip()
        paragraph = Paragraph(_lines_inlines(lines, names))
        blocks.append(Quote([paragraph]) if quoted else paragraph)
    return blocks


def _add_line(groups: list[tuple[bool, list[str]]], quoted: bool, lines: list[str]) -> None:
    if groups and groups[-1][0] == quoted:
        groups[-1][1].extend(lines)
    else:
        groups.append((quoted, lines))


def _lines_inlines(lines: list[str], names: NameResolver) -> list[Inline]:
    # Slack never carries bold or italics across a line break, so each line is read on its own.
    out: list[Inline] = []
    for index, line in enumerate(lines):
        if index:
            out.append(Text("\n"))
        out.extend(_line_inlines(line, names))
    return out


@dataclass(slots=True)
class _Mark:
    """A `*`, `_` or `~` that may open or close a style; unpaired ones stay as text."""

    char: str
    can_open: bool
    can_close: bool
    role: int = 0  # +1 opens, -1 closes, 0 literal


_Atom = str | _Mark | Inline  # str: raw (still encoded) text


def _line_inlines(line: str, names: NameResolver) -> list[Inline]:
    atoms: list[_Atom] = []
    position = text_start = 0
    while match := _INLINE.search(line, position):
        glyph = None
        if match.group("emoji") is not None:
            glyph = glyph_from_shortcode(match.group("emoji"), int(match.group("tone") or 0))
            if glyph is None:  # a custom or unknown :name: stays as typed
                position = match.start() + 1
                continue
        if match.start() > text_start:
            atoms.append(line[text_start : match.start()])
        if glyph is not None:
            atoms.append(Text(glyph))
        elif match.group("token") is not None:
            atoms.append(_token(match.group("token"), names))
        elif match.group("code") is not None:
            atoms.extend(_code_inlines(match.group("code"), names, Style.CODE))
        else:
            atoms.append(_mark(line, match.start()))
        position = text_start = match.end()
    if text_start < len(line):
        atoms.append(line[text_start:])
    _pair_marks(atoms)
    return _styled(atoms)


def _mark(line: str, at: int) -> _Mark:
    # Slack formats `*word*` but not `2*3*4` or `snake_case_name`: a marker opens after a
    # non-word character and before a non-space, and closes after a non-space, before a non-word.
    char = line[at]
    before = line[at - 1] if at > 0 else " "
    after = line[at + 1] if at + 1 < len(line) else " "
    return _Mark(
        char,
        can_open=not before.isalnum() and not after.isspace() and after != char,
        can_close=not before.isspace() and before != char and not after.isalnum(),
    )


def _pair_marks(atoms: list[_Atom]) -> None:
    # A closer pairs with the nearest opener of its kind; openers of other kinds opened after that
    # one stay literal, so spans always nest. One stack per kind keeps this linear on long lines.
    openers: dict[str, list[tuple[int, _Mark]]] = {char: [] for char in _MARK_STYLES}
    for index, atom in enumerate(atoms):
        if not isinstance(atom, _Mark):
            continue
        same = openers[atom.char]
        if atom.can_close and same:
            start, opener = same.pop()
            opener.role, atom.role = 1, -1
            for stack in openers.values():
                while stack and stack[-1][0] > start:
                    stack.pop()
        elif atom.can_open:
            same.append((index, atom))


def _styled(atoms: list[_Atom]) -> list[Inline]:
    out: list[Inline] = []
    pending: list[str] = []
    depth = dict.fromkeys(_MARK_STYLES, 0)
    style = 0

    def flush() -> None:
        if pending:
            out.append(text(decode_entities("".join(pending)), style))
            pending.clear()

    for atom in atoms:
        if isinstance(atom, str):
            pending.append(atom)
        elif isinstance(atom, _Mark):
            if not atom.role:
                pending.append(atom.char)
                continue
            flush()
            depth[atom.char] += atom.role
            style = 0
            for char, flag in _MARK_STYLES.items():
                if depth[char]:
                    style |= flag
        else:
            flush()
            out.append(atom._replace(style=atom.style | style))
    flush()
    return out


def _code_inlines(code: str, names: NameResolver, style: int) -> list[Inline]:
    """Code keeps its characters (no bold, no :emoji:); links and mentions still read as such."""
    out: list[Inline] = []
    position = 0
    for match in _TOKEN.finditer(code):
        if match.start() > position:
            out.append(text(decode_entities(code[position : match.start()]), style))
        token = _token(match.group(1), names)
        out.append(token._replace(style=style))
        position = match.end()
    if position < len(code):
        out.append(text(decode_entities(code[position:]), style))
    return out


def _token(token: str, names: NameResolver) -> Inline:
    """One `<…>`: a mention, a special command, a date, or a link with an optional label."""
    target, _, label = token.partition("|")
    label = decode_entities(label)
    if target.startswith("@"):
        return text(user_mention(names, target[1:], label))
    if target.startswith("#"):
        return text(channel_mention(names, target[1:], label))
    if target.startswith("!"):
        return _command(target[1:], label, names)
    return link(decode_entities(target), label)


def _command(command: str, label: str, names: NameResolver) -> Inline:
    if command.startswith("subteam^"):
        return text(usergroup_mention(names, command.removeprefix("subteam^"), label))
    if command.startswith("date^"):
        # <!date^timestamp^format^optional_link|fallback>
        parts = command.split("^")
        shown = label or date_text(parts[1] if len(parts) > 1 else "")
        return link(decode_entities(parts[3]), shown) if len(parts) > 3 else text(shown)
    if command in _BROADCASTS:
        return text(f"@{command}")
    return text(label or command)
