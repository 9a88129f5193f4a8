"""Which Slack files the bot downloads, and which URLs its bot token may go to. Pure functions.

A file object's URLs are not Slack's word: an app sharing a remote file gives it any URL it likes,
and a message can carry file objects that point anywhere, Slack's own Web API included. A token
sent with such a download would call that method as the bot (and the answer would be uploaded to
Productlane as "the file"). So the token goes only where Slack serves uploaded files:

- over https, to Slack's file hosts, named exactly (no suffix match: a workspace's subdomain,
  ``hooks.slack.com`` or the API host are Slack's too, and must never see the token);
- on a file path (``/files-pri/`` for a file, ``/files-tmb/`` for its thumbnails);
- written plainly: no user part, no port, no backslash, no dot segment or encoded slash or dot that
  a parser or a server could read as another path, nothing outside printable ASCII. Parsers
  disagree on such URLs (``https://evil.example\\@files.slack.com/`` is files.slack.com to one and
  evil.example to another), so a URL any of them could read two ways is refused.

Every redirect hop is checked against the same rule. Where ``SLACK_API_URL`` points somewhere other
than Slack (a stand-in such as the tests' loopback fake), that origin is allowed as well, for the
same file paths only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from bot.feedback.capture import SlackFile
from bot.productlane.uploads import UPLOAD_CONTENT_TYPES, content_type_of

__all__ = [
    "DOWNLOADABLE_MODES",
    "SLACK_FILE_HOSTS",
    "SLACK_FILE_PATHS",
    "TokenRule",
    "download_refusal",
    "token_rule",
]

# Slack's documented file hosts: commercial Slack (Enterprise Grid included) serves every
# workspace's uploads from files.slack.com, GovSlack from files.slack-gov.com (GovSlack runs on
# slack-gov.com only). Nothing else is added until Slack documents it: a host missing here costs a
# file kept as a link; one too many could cost the token.
SLACK_FILE_HOSTS: Final = frozenset({"files.slack.com", "files.slack-gov.com"})
SLACK_FILE_PATHS: Final = ("/files-pri/", "/files-tmb/")
# The domains Slack runs on: an API URL under one of them is Slack itself, never a stand-in whose
# origin could be allowed (slack.com is the Web API host).
_SLACK_DOMAINS: Final = ("slack.com", "slack-gov.com")
# Files Slack stores: uploads ("hosted") and snippets. "external" (remote files), "post",
# "tombstone", "hidden_by_limit", "file_access" and any mode added later are not downloaded.
DOWNLOADABLE_MODES: Final = frozenset({"hosted", "snippet"})

# Printable ASCII but space and backslash: what a plainly written URL is made of.
_PLAIN: Final = re.compile(r"[!-\[\]-~]+")
_HOST_NAME: Final = re.compile(r"[a-z0-9.-]+")
# Percent-encoded '.', '/' and '\': a server decoding them would see another path.
_ENCODED_PATH_CHARACTERS: Final = re.compile(r"%(2e|2f|5c)", re.IGNORECASE)


@dataclass(frozen=True)
class TokenRule:
    """The origins (scheme, host[:port]) the bot token may be sent to, for file paths only."""

    origins: frozenset[tuple[str, str]]

    def allows(self, url: str) -> bool:
        """True when ``url`` is a plainly written file URL on one of the origins."""
        if not _PLAIN.fullmatch(url):
            return False
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) not in self.origins or parts.fragment or "#" in url:
            return False
        path = parts.path
        if not path.startswith(SLACK_FILE_PATHS) or _ENCODED_PATH_CHARACTERS.search(path):
            return False
        return not any(segment in (".", "..") for segment in path.split("/"))


def token_rule(api_url: str) -> TokenRule:
    """Slack's file hosts over https, and the API's own origin when it is not Slack's."""
    origins = {("https", host) for host in SLACK_FILE_HOSTS}
    api = urlsplit(api_url.strip())
    host = (api.hostname or "").lower()
    slack_itself = any(host == domain or host.endswith("." + domain) for domain in _SLACK_DOMAINS)
    if (
        api.scheme in ("http", "https")
        and host
        and not slack_itself
        and not api.username
        and not api.password
        and _HOST_NAME.fullmatch(api.netloc.lower().partition(":")[0]) is not None
    ):
        origins.add((api.scheme, api.netloc.lower()))
    return TokenRule(frozenset(origins))


def download_refusal(file: SlackFile) -> str | None:
    """Why this file is not downloaded at all, whatever its URL (in words for the thread's reader);
    None when it may be. Checked before any request."""
    if file.external or file.mode == "external":
        return "it is a remote file, not stored in Slack"
    if file.mode not in DOWNLOADABLE_MODES:
        return f"Slack does not hold it as a file ({file.mode or 'no mode given'})"
    # The type Productlane gets may lean on Slack's `filetype` where the mimetype is generic, but
    # the download itself needs a mimetype that passes on its own: a file object saying nothing
    # (or octet-stream) about what it holds is not fetched with the token.
    declared = content_type_of(file.mimetype)
    if declared not in UPLOAD_CONTENT_TYPES:
        return f"Slack declared its type as {declared or 'nothing'}, which Productlane does not accept"
    return None
