"""A whole Slack message → document blocks: its body, then legacy attachments, then files.

The body is read from `blocks` when any of them show something (rich_text for people, section,
header and context for bots), else from the mrkdwn `text`, which for block messages is only a
notification fallback saying the same thing again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.render.document import (
    Block,
    CopiedFile,
    Inline,
    ListBlock,
    ListItem,
    Paragraph,
    Quote,
    Style,
    Text,
    as_list,
    as_str,
    image,
    is_blank,
    link,
    text,
)
from bot.render.emoji_glyphs import emojize_shortcodes
from bot.render.mrkdwn import decode_entities, mrkdwn_blocks, mrkdwn_inlines
from bot.render.names import NameResolver
from bot.render.rich_text import rich_text_blocks

_IMAGE_TYPES = frozenset({"png", "jpg", "jpeg", "gif", "webp", "heic", "bmp", "svg", "tiff"})


def message_blocks(
    message: Any, names: NameResolver, copies: Mapping[str, CopiedFile] | None = None
) -> list[Block]:
    """``copies``: what became of the message's files in Productlane, by Slack file id."""
    if not isinstance(message, Mapping):
        return []
    body = block_kit_blocks(message.get("blocks"), names)
    if not body:
        body = mrkdwn_blocks(as_str(message.get("text")), names)
    return [
        *body,
        *attachment_blocks(message.get("attachments"), names),
        *file_blocks(message.get("files"), copies),
    ]


def block_kit_blocks(blocks: Any, names: NameResolver) -> list[Block]:
    """The blocks that carry words, in order; buttons, dividers and inputs show nothing."""
    out: list[Block] = []
    for block in as_list(blocks):
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "rich_text":
            out.extend(rich_text_blocks(block, names))
        elif kind == "section":
            out.extend(_text_object_blocks(block.get("text"), names))
            for field in as_list(block.get("fields")):
                out.extend(_text_object_blocks(field, names))
        elif kind == "header":
            title = [
                node._replace(style=node.style | Style.BOLD) for node in _inlines(block.get("text"), names)
            ]
            out.append(Paragraph(title))
        elif kind == "context":
            out.append(Paragraph(_context_inlines(block.get("elements"), names)))
        elif kind == "image":
            label = _plain(block.get("title")) or as_str(block.get("alt_text"))
            out.append(_image_paragraph(as_str(block.get("image_url")), label))
        elif isinstance(block.get("text"), str | Mapping):
            # A block kind Slack adds later: its words still show.
            out.extend(_text_object_blocks(block.get("text"), names))
    return [block for block in out if not _is_empty(block)]


def attachment_blocks(attachments: Any, names: NameResolver) -> list[Block]:
    """Legacy attachments as bots send them: pretext above, the rest quoted like Slack's bar."""
    out: list[Block] = []
    for attachment in as_list(attachments):
        if not isinstance(attachment, Mapping):
            continue
        out.extend(mrkdwn_blocks(as_str(attachment.get("pretext")), names))
        inner = _attachment_body(attachment, names)
        if inner:
            out.append(Quote(inner))
    return out


def _attachment_body(attachment: Mapping[str, Any], names: NameResolver) -> list[Block]:
    inner: list[Block] = []
    author = decode_entities(as_str(attachment.get("author_name")))
    if author.strip():
        inner.append(Paragraph([link(as_str(attachment.get("author_link")), author)]))
    title = decode_entities(as_str(attachment.get("title")))
    if title.strip():
        inner.append(Paragraph([link(as_str(attachment.get("title_link")), title, Style.BOLD)]))
    inner.extend(mrkdwn_blocks(as_str(attachment.get("text")), names))
    inner.extend(block_kit_blocks(attachment.get("blocks"), names))
    for field in as_list(attachment.get("fields")):
        if isinstance(field, Mapping):
            inner.append(_field_paragraph(field, names))
    image_url = as_str(attachment.get("image_url"))
    if image_url:
        inner.append(_image_paragraph(image_url, ""))
    footer = decode_entities(as_str(attachment.get("footer")))
    if footer.strip():
        inner.append(Paragraph([text(footer)]))
    inner = [block for block in inner if not _is_empty(block)]
    fallback = decode_entities(as_str(attachment.get("fallback")))
    if not inner and fallback.strip():
        inner.append(Paragraph([text(fallback)]))
    return inner


def _field_paragraph(field: Mapping[str, Any], names: NameResolver) -> Paragraph:
    title = decode_entities(as_str(field.get("title")))
    value = mrkdwn_inlines(as_str(field.get("value")), names)
    if not title.strip():
        return Paragraph(value)
    return Paragraph([text(title, Style.BOLD), Text("\n"), *value])


def file_blocks(files: Any, copies: Mapping[str, CopiedFile] | None = None) -> list[Block]:
    """Files: pictures Productlane keeps a copy of shown inline, other copies linked by name, and
    the rest as links to Slack (images marked as such) with the note saying why they stayed there."""
    pictures: list[Block] = []
    items: list[ListItem] = []
    for file in as_list(files):
        if not isinstance(file, Mapping):
            continue
        copy = (copies or {}).get(as_str(file.get("id")))
        learned = copy if copy is not None else CopiedFile(None)
        name = as_str(file.get("name")) or as_str(file.get("title")) or learned.name or ""
        is_image = _is_image(file) or (learned.content_type or "").startswith("image/")
        kind = "Image" if is_image else "File"
        if learned.url:
            picture = image(learned.url) if kind == "Image" else None
            if picture is not None:
                pictures.append(picture)
                continue
            items.append(
                ListItem([text(f"{kind}: "), link(learned.url, name.strip() or "file", file_name=True)])
            )
            continue
        url = as_str(file.get("permalink")) or as_str(file.get("url_private")) or learned.permalink or ""
        if not name.strip():
            name = "file" if url else "a file" if learned.note else "a file that is no longer available"
        inlines: list[Inline] = [text(f"{kind}: "), link(url, name, file_name=True)]
        if learned.note:
            inlines.append(text(f" (kept in Slack: {learned.note})"))
        items.append(ListItem(inlines))
    listed: list[Block] = [ListBlock(ordered=False, start=1, items=items)] if items else []
    return [*pictures, *listed]


def _is_image(file: Mapping[str, Any]) -> bool:
    mimetype = as_str(file.get("mimetype")).lower()
    return mimetype.startswith("image/") or as_str(file.get("filetype")).lower() in _IMAGE_TYPES


def _image_paragraph(url: str, label: str) -> Paragraph:
    return Paragraph([text("Image: "), link(url, label, file_name=True)])


def _text_object_blocks(obj: Any, names: NameResolver) -> list[Block]:
    if isinstance(obj, str):
        return mrkdwn_blocks(obj, names)
    if not isinstance(obj, Mapping):
        return []
    if obj.get("type") == "mrkdwn":
        return mrkdwn_blocks(as_str(obj.get("text")), names)
    return [Paragraph(_inlines(obj, names))]


def _inlines(obj: Any, names: NameResolver) -> list[Inline]:
    """A text object read inline: mrkdwn is parsed, plain_text taken as written."""
    if isinstance(obj, Mapping) and obj.get("type") == "mrkdwn":
        return mrkdwn_inlines(as_str(obj.get("text")), names)
    return [text(_plain(obj))]


def _plain(obj: Any) -> str:
    if not isinstance(obj, Mapping):
        return ""
    raw = as_str(obj.get("text"))
    # plain_text with `emoji: true` (Slack's default) shows :shortcodes: as emoji.
    return emojize_shortcodes(raw) if obj.get("emoji", True) is not False else raw


def _context_inlines(elements: Any, names: NameResolver) -> list[Inline]:
    # Slack shows a context block's elements on one line; images in it are decoration.
    out: list[Inline] = []
    for element in as_list(elements):
        if not isinstance(element, Mapping) or element.get("type") not in ("mrkdwn", "plain_text"):
            continue
        if out:
            out.append(Text(" "))
        out.extend(_inlines(element, names))
    return out


def _is_empty(block: Block) -> bool:
    return isinstance(block, Paragraph) and is_blank(block.inlines)
