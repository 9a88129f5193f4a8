"""Whole Slack messages → HTML: which part is the body, then attachments, then files."""

from __future__ import annotations

from bot.render.message_html import message_to_html
from bot.render.names import NO_NAMES, StaticNames

from .helpers import fixture, one_section, txt

NAMES = StaticNames(users={"U0CSM0001": "Alex"})
REL = ' rel="noopener noreferrer"'


def test_the_recorded_shortcut_message_renders_every_part():
    message = fixture("message_shortcut.json")["message"]
    assert message_to_html(message, NAMES) == (
        "<p><strong>Export to CSV times out</strong> for workspaces with more than 10k rows. "
        f'@Alex can you look? See <a href="https://status.example.com/incidents/42"{REL}>'
        "incident 42</a></p>"
        "<ul><li>happens in Chrome &amp; Safari</li><li>started after <code>v2.3</code></li></ul>"
        "<p>Thanks 🙏</p>"
    )


def test_rich_text_blocks_win_over_the_text_fallback():
    message = {"text": "fallback words", "blocks": [one_section(txt("block words"))]}
    assert message_to_html(message, NO_NAMES) == "<p>block words</p>"


def test_without_blocks_the_mrkdwn_text_is_used():
    assert message_to_html({"text": "*hi* &amp; bye"}, NO_NAMES) == ("<p><strong>hi</strong> &amp; bye</p>")


def test_blocks_that_show_no_words_fall_back_to_the_text():
    message = {"text": "the words", "blocks": [{"type": "divider"}, {"type": "actions"}]}
    assert message_to_html(message, NO_NAMES) == "<p>the words</p>"


def test_section_blocks_render_their_mrkdwn_and_fields():
    message = {
        "text": "ignored",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Deploy* failed &gt; see log"},
                "fields": [
                    {"type": "mrkdwn", "text": "*Env:*\nprod"},
                    {"type": "plain_text", "text": "A & B :tada:", "emoji": True},
                ],
                "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Retry"}},
            }
        ],
    }
    assert message_to_html(message, NO_NAMES) == (
        "<p><strong>Deploy</strong> failed &gt; see log</p>"
        "<p><strong>Env:</strong><br>prod</p>"
        "<p>A &amp; B 🎉</p>"
    )


def test_plain_text_without_emoji_keeps_its_shortcodes():
    block = {"type": "section", "text": {"type": "plain_text", "text": ":tada:", "emoji": False}}
    assert message_to_html({"blocks": [block]}, NO_NAMES) == "<p>:tada:</p>"


def test_header_context_and_image_blocks():
    message = {
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Weekly report"}},
            {
                "type": "context",
                "elements": [
                    {"type": "image", "image_url": "https://x.io/i.png", "alt_text": "icon"},
                    {"type": "mrkdwn", "text": "by <@U0CSM0001>"},
                    {"type": "plain_text", "text": "today"},
                ],
            },
            {"type": "image", "image_url": "https://x.io/chart.png", "alt_text": "a chart"},
        ]
    }
    assert message_to_html(message, NAMES) == (
        "<p><strong>Weekly report</strong></p>"
        "<p>by @Alex today</p>"
        f'<p>Image: <a href="https://x.io/chart.png"{REL}>a chart</a></p>'
    )


def test_a_block_kind_slack_adds_later_still_shows_its_text():
    message = {"blocks": [{"type": "callout", "text": {"type": "mrkdwn", "text": "_heads up_"}}]}
    assert message_to_html(message, NO_NAMES) == "<p><em>heads up</em></p>"


def test_legacy_attachments_render_under_the_body():
    message = {
        "text": "Build report",
        "attachments": [
            {
                "pretext": "From *CI*",
                "author_name": "ci-bot",
                "title": "Build #42 &amp; tests",
                "title_link": "https://ci.example.com/42",
                "text": "Failed on `main`",
                "fields": [
                    {"title": "Branch", "value": "main", "short": True},
                    {"title": "", "value": "_no title_"},
                ],
                "footer": "CI",
                "fallback": "not needed",
            }
        ],
    }
    assert message_to_html(message, NO_NAMES) == (
        "<p>Build report</p>"
        "<p>From <strong>CI</strong></p>"
        "<blockquote>"
        "<p>ci-bot</p>"
        f'<p><a href="https://ci.example.com/42"{REL}><strong>Build #42 &amp; tests</strong></a></p>'
        "<p>Failed on <code>main</code></p>"
        "<p><strong>Branch</strong><br>main</p>"
        "<p><em>no title</em></p>"
        "<p>CI</p>"
        "</blockquote>"
    )


def test_an_attachment_with_only_a_fallback_shows_it():
    message = {"attachments": [{"fallback": "Plain &lt;old&gt; fallback", "color": "#f00"}]}
    assert message_to_html(message, NO_NAMES) == (
        "<blockquote><p>Plain &lt;old&gt; fallback</p></blockquote>"
    )


def test_an_attachment_image_is_listed_as_an_image_link():
    message = {"attachments": [{"title": "Chart", "image_url": "https://x.io/c.png"}]}
    assert message_to_html(message, NO_NAMES) == (
        "<blockquote><p><strong>Chart</strong></p>"
        f'<p>Image: <a href="https://x.io/c.png"{REL}>https://x.io/c.png</a></p></blockquote>'
    )


def test_an_attachment_with_blocks_renders_them():
    message = {"attachments": [{"blocks": [one_section(txt("inside", bold=True))]}]}
    assert message_to_html(message, NO_NAMES) == ("<blockquote><p><strong>inside</strong></p></blockquote>")


def test_files_are_listed_as_links_and_images_are_marked():
    message = {
        "text": "Screens attached",
        "files": [
            {
                "name": "screen.png",
                "mimetype": "image/png",
                "permalink": "https://acme.slack.com/files/U1/F1/screen.png",
                "url_private": "https://files.slack.com/files-pri/T1-F1/screen.png",
            },
            {"name": "log.txt", "filetype": "text", "url_private": "https://files.slack.com/F2"},
            {"name": "photo.heic", "filetype": "heic"},
            {"id": "F4", "mode": "tombstone"},
        ],
    }
    assert message_to_html(message, NO_NAMES) == (
        "<p>Screens attached</p><ul>"
        f'<li>Image: <a href="https://acme.slack.com/files/U1/F1/screen.png"{REL}>screen.png</a></li>'
        f'<li>File: <a href="https://files.slack.com/F2"{REL}>log.txt</a></li>'
        "<li>Image: photo.heic</li>"
        "<li>File: a file that is no longer available</li>"
        "</ul>"
    )


def test_a_message_with_only_files_lists_them():
    message = {"files": [{"name": "a.pdf", "permalink": "https://acme.slack.com/files/a"}]}
    assert message_to_html(message, NO_NAMES) == (
        f'<ul><li>File: <a href="https://acme.slack.com/files/a"{REL}>a.pdf</a></li></ul>'
    )


def test_an_empty_message_is_empty_html():
    assert message_to_html({}, NO_NAMES) == ""
    assert message_to_html({"text": "", "blocks": [], "files": []}, NO_NAMES) == ""


def test_an_emoji_only_message():
    emoji = {"type": "emoji", "name": "tada", "unicode": "1f389"}
    assert message_to_html({"blocks": [one_section(emoji)]}, NO_NAMES) == "<p>🎉</p>"
    assert message_to_html({"text": ":tada::tada:"}, NO_NAMES) == "<p>🎉🎉</p>"
