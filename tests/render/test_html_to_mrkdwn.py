"""HTML from Productlane → Slack mrkdwn: what the team writes shows in Slack as it was meant, and
nothing in it becomes markup it did not hold."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.render.html_to_mrkdwn import html_to_mrkdwn


@pytest.mark.parametrize(
    ("html", "mrkdwn"),
    [
        ("<p>Hi <strong>Jane</strong>, <em>thanks</em>!</p>", "Hi *Jane*, _thanks_!"),
        ("<p>one</p><p>two</p>", "one\ntwo"),
        ("<p>a<br>b</p>", "a\nb"),
        ("<p><s>old</s> new</p>", "~old~ new"),
        ('<a href="https://x.test/a?b=1&amp;c=2">docs</a>', "<https://x.test/a?b=1&amp;c=2|docs>"),
        ('<a href="https://x.test">https://x.test</a>', "<https://x.test>"),
        ('<a href="mailto:help@acme.test">write us</a>', "<mailto:help@acme.test|write us>"),
        ('<a href="javascript:alert(1)">click</a>', "click"),
        ('<a href="https://x.test">a|b > c</a>', "<https://x.test|a¦b &gt; c>"),
        ("<ul><li>one</li><li>two<ul><li>deep</li></ul></li></ul>", "• one\n• two\n    ◦ deep"),
        ('<ol start="3"><li>three</li><li>four</li></ol>', "3. three\n4. four"),
        ("<ul><li><p>para item</p></li></ul>", "• para item"),
        ("<p>run <code>a*b_c</code></p>", "run `a*b_c`"),
        ("<pre>x &lt; y\n  indented</pre>", "```\nx &lt; y\n  indented\n```"),
        ("<blockquote><p>quoted</p><p>twice</p></blockquote>", "> quoted\n> twice"),
        ('<p><img src="https://cdn.test/a.png" alt="chart"></p>', "<https://cdn.test/a.png|Image: chart>"),
        ('<p><img src="data:image/png;base64,xx"></p>', ""),
        ("<h2>Release</h2><p>body</p>", "*Release*\nbody"),
        ("<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>", "a | b\n1 | 2"),
        ("<p>x</p><script>alert(1)</script><style>p{}</style>", "x"),
        ("<p><strong> spaced </strong>out</p>", "*spaced* out"),
        ("<p><strong><strong>twice</strong></strong></p>", "*twice*"),
        ("plain &amp; simple", "plain &amp; simple"),
        ("<p>&lt;!channel&gt; <b>&lt;@U123&gt;</b></p>", "&lt;!channel&gt; *&lt;@U123&gt;*"),
        ("<p>unclosed <b>bold", "unclosed *bold*"),
        ("", ""),
    ],
)
def test_html_becomes_mrkdwn(html: str, mrkdwn: str) -> None:
    assert html_to_mrkdwn(html) == mrkdwn


_TOKEN = re.compile(r"<(https?://|mailto:)[^<>]*>")


@given(st.text(max_size=300))
def test_no_text_ever_becomes_a_slack_token(text: str) -> None:
    """Whatever the text, the only <…> in the output are links the HTML held (none here)."""
    html = "<p>" + text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") + "</p>"
    out = html_to_mrkdwn(html)
    assert "<" not in out
    assert ">" not in out


@given(st.text(max_size=300))
def test_any_input_converts_without_raising(html: str) -> None:
    out = html_to_mrkdwn(html)
    assert isinstance(out, str)
    # Every "<" that is left opens a link to an http(s) or mailto target.
    assert "<" not in _TOKEN.sub("", out)
