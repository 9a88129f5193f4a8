"""Files that delivery copied into Productlane: pictures inline, documents by name, the rest as
links to Slack with a note saying why they stayed there."""

from __future__ import annotations

from typing import Any

import pytest

from bot.render.document import CopiedFile
from bot.render.message_html import message_to_html, sanitize_html
from bot.render.names import NO_NAMES
from bot.render.plain_text import message_to_plain_text

from .helpers import assert_safe, fixture

REL = ' rel="noopener noreferrer"'
CDN = "https://cdn.productlane.test/files"


def shortcut_message_with_files() -> dict[str, Any]:
    message = fixture("message_with_files.json")
    message.pop("_note", None)
    return message


def test_copies_show_pictures_inline_documents_by_name_and_the_rest_as_slack_links_with_notes():
    message = shortcut_message_with_files()
    copies = {
        "F0IMG00001": CopiedFile(f"{CDN}/1/export-error.png", content_type="image/png"),
        "F0PDF00002": CopiedFile(f"{CDN}/2/invoice-march.pdf", content_type="application/pdf"),
        "F0SVG00003": CopiedFile(None, "Productlane does not accept SVG files"),
        "F0MP400004": CopiedFile(None, "12.0 MB, over Productlane's 10.0 MB limit"),
        "F0EXT00005": CopiedFile(None, "Slack would not let the bot read it (file_not_found)"),
        "F0DEL00006": CopiedFile(None, "it was deleted in Slack"),
    }
    html = message_to_html(message, NO_NAMES, copies)
    assert_safe(html)
    assert html == (
        "<p>Here is what I see when exporting</p>"
        f'<p><img src="{CDN}/1/export-error.png"></p>'
        "<ul>"
        f'<li>File: <a href="{CDN}/2/invoice-march.pdf"{REL}>invoice-march.pdf</a></li>'
        '<li>Image: <a href="https://acme.slack.com/files/U0CUST0003/F0SVG00003/diagram.svg"'
        f"{REL}>diagram.svg</a> (kept in Slack: Productlane does not accept SVG files)</li>"
        '<li>File: <a href="https://acme.slack.com/files/U0CUST0003/F0MP400004/screen-recording.mp4"'
        f"{REL}>screen-recording.mp4</a> (kept in Slack: 12.0 MB, over Productlane's 10.0 MB limit)</li>"
        "<li>File: a file (kept in Slack: Slack would not let the bot read it (file_not_found))</li>"
        "<li>File: a file (kept in Slack: it was deleted in Slack)</li>"
        "</ul>"
    )


def test_without_copies_files_stay_links_to_slack_as_before():
    html = message_to_html(shortcut_message_with_files(), NO_NAMES)
    assert "<img" not in html
    assert "export-error.png</a>" in html
    assert "kept in Slack" not in html


def test_a_hidden_file_copied_after_files_info_shows_by_what_was_learned():
    message = {"files": [{"id": "F0EXT00005", "mode": "file_access", "file_access": "check_file_info"}]}
    copies = {
        "F0EXT00005": CopiedFile(f"{CDN}/5/shared.png", name="shared.png", content_type="image/png"),
    }
    assert message_to_html(message, NO_NAMES, copies) == f'<p><img src="{CDN}/5/shared.png"></p>'
    kept = {
        "F0EXT00005": CopiedFile(
            None, "too big", name="shared.mov", permalink="https://acme.slack.com/files/x/shared.mov"
        )
    }
    assert message_to_html(message, NO_NAMES, kept) == (
        f'<ul><li>File: <a href="https://acme.slack.com/files/x/shared.mov"{REL}>shared.mov</a>'
        " (kept in Slack: too big)</li></ul>"
    )


def test_a_copy_whose_url_is_not_http_is_never_a_picture_or_a_link():
    message = {"files": [{"id": "F1", "name": "x.png", "mimetype": "image/png"}]}
    html = message_to_html(message, NO_NAMES, {"F1": CopiedFile("javascript:alert(1)")})
    assert_safe(html)
    assert "<img" not in html
    assert "javascript" not in html


def test_plain_text_lists_files_by_name():
    message = {"text": "see", "files": [{"id": "F1", "name": "x.png", "mimetype": "image/png"}]}
    # The plain-text reader (previews, titles) never gets copies: files read as their names.
    assert message_to_plain_text(message, NO_NAMES) == "see\n• Image: x.png"


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        (f'<img src="{CDN}/a.png">', f'<img src="{CDN}/a.png">'),
        (f'<img src="{CDN}/a.png" alt="x" onerror="alert(1)" width="9">', f'<img src="{CDN}/a.png">'),
        ('<img src="javascript:alert(1)">ok', "ok"),
        ('<img src="data:image/png;base64,AAAA">ok', "ok"),
        ('<img src="mailto:a@b.c">ok', "ok"),
        ('<img src="/relative.png">ok', "ok"),
        ("<img>ok", "ok"),
        ('<img srcset="https://x.io/a.png 2x">ok', "ok"),
        ('<picture><source srcset="https://x.io/a.png"></picture>ok', "ok"),
    ],
)
def test_the_sanitizer_allows_img_with_a_whole_http_src_and_nothing_else(dirty, clean):
    cleaned = sanitize_html(dirty)
    assert_safe(cleaned)
    assert cleaned == clean
    assert sanitize_html(cleaned) == cleaned
