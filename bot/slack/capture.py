"""The Slack side of capture: the whole thread (conversations.replies, every page), a hidden file's
details (files.info) and a file's bytes (its private download URL, with the bot token, streamed
under a size cap). Called by the delivery worker, never on Slack's ack path.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.feedback.capture import FileUnavailable, Gathered, SlackFile, TryLater, slack_file, slack_files
from bot.feedback.submission import Submission
from bot.productlane.uploads import megabytes
from bot.slack.errors import is_transient, slack_error_code, try_later
from bot.slack.file_urls import download_refusal, token_rule
from bot.slack.tls import LazyTrustContext

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

REPLIES_PAGE = 200  # Slack recommends no more than 200 a page
MAX_THREAD_PAGES = 50  # 10,000 messages: far more than one body can hold
DOWNLOAD_TIMEOUT = 30.0
_CHUNK = 64 * 1024

# Redirects a download may follow, each hop checked as the first URL was (bot/slack/file_urls.py).
MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

_THREAD_PROBLEMS = {
    "not_in_channel": "the bot is not in this channel (invite it with /invite @Productlane)",
    "channel_not_found": "the bot cannot see this conversation (invite it to the channel)",
    "thread_not_found": "Slack could not find the thread",
    "missing_scope": "the bot's Slack app lacks the history scope for this kind of conversation",
    "not_allowed_token_type": "Slack does not let the bot read this conversation",
}
_FILE_PROBLEMS = {
    "file_not_found": (
        "Slack would not let the bot read it (file_not_found), as happens with files shared from "
        "another organization"
    ),
    "file_deleted": "it was deleted in Slack",
    "missing_scope": "the bot's Slack app lacks the files:read scope",
}


class SlackCapture:
    """Implements the delivery worker's `Gatherer` and the file copier's `FileSource`."""

    def __init__(self, client: WebClient, bot_token: str, api_url: str) -> None:
        self._client = client
        self._token = bot_token
        self._token_rule = token_rule(api_url)
        self._http_client: httpx.Client | None = None
        self._http_lock = threading.Lock()

    # --- the thread -----------------------------------------------------------------------------

    def gather(self, submission: Submission) -> Gathered:
        """The thread (when asked for) and the files to copy. Raises `TryLater` when Slack cannot
        answer now; a refusal of the thread sends the single message, saying why."""
        source = submission.source
        if source is None:
            return Gathered()
        single = Gathered(files=slack_files([source.content]))
        if not submission.form.include_thread:
            return single
        try:
            thread = self.replies(source.channel_id, source.thread_ts)
        except SlackApiError as error:
            if is_transient(error):
                raise try_later("conversations.replies", error) from error
            code = slack_error_code(error)
            log.info("cannot read the thread %s/%s: %s", source.channel_id, source.thread_ts, code)
            problem = _THREAD_PROBLEMS.get(code, f"Slack refused ({code})")
            return Gathered(thread_problem=problem, files=single.files)
        except OSError as error:
            raise TryLater(f"conversations.replies: {type(error).__name__}") from error
        if not any(message.get("ts") == source.ts for message in thread):
            # Slack did not return the message pointed at (deleted since?): keep what was sent.
            pointed = {**source.content, "ts": source.ts, "user": source.author_id}
            thread = [*thread, pointed]
            thread.sort(key=lambda message: float(str(message.get("ts") or 0)))
        return Gathered(thread=tuple(thread), files=slack_files(thread))

    def replies(self, channel_id: str, thread_ts: str) -> list[dict[str, Any]]:
        """Every message of the thread, parent first, following the cursor to the last page."""
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(MAX_THREAD_PAGES):
            response = self._client.conversations_replies(
                channel=channel_id, ts=thread_ts, limit=REPLIES_PAGE, cursor=cursor
            )
            page = response.get("messages") or []
            messages.extend(message for message in page if isinstance(message, dict))
            cursor = ((response.get("response_metadata") or {}).get("next_cursor") or "").strip() or None
            if not response.get("has_more") or cursor is None:
                break
        seen: set[str] = set()
        unique = []
        for message in messages:  # a message on two pages (the thread grew meanwhile) counts once
            ts = str(message.get("ts"))
            if ts not in seen:
                seen.add(ts)
                unique.append(message)
        return unique

    # --- files ----------------------------------------------------------------------------------

    def resolve(self, file: SlackFile) -> SlackFile:
        try:
            info = self._client.files_info(file=file.id)
        except SlackApiError as error:
            if is_transient(error):
                raise try_later("files.info", error) from error
            code = slack_error_code(error)
            note = _FILE_PROBLEMS.get(code, f"Slack refused to describe it ({code})")
            raise FileUnavailable(note) from error
        except OSError as error:
            raise TryLater(f"files.info: {type(error).__name__}") from error
        raw = info.get("file")
        found = slack_file(raw) if isinstance(raw, Mapping) else None
        if found is None or found.hidden or found.gone:
            raise FileUnavailable(_FILE_PROBLEMS["file_not_found"])
        return found

    def may_send_token(self, url: str) -> bool:
        """Only Slack's file hosts get the bot token, over https, on file paths (or the Web API's
        own origin when SLACK_API_URL points at a stand-in): see bot/slack/file_urls.py."""
        return self._token_rule.allows(url)

    def download(self, file: SlackFile, max_bytes: int) -> bytes:
        refusal = download_refusal(file)
        if refusal is not None:
            log.info("file %s: not downloading it (%s)", file.id, refusal)
            raise FileUnavailable(refusal)
        url = file.download_url
        if not url:
            raise FileUnavailable("Slack gave no link to download it")
        if not self.may_send_token(url):
            log.warning("file %s: its download link is not a Slack file link; not downloading", file.id)
            raise FileUnavailable("its download link is not a Slack file link")
        import httpx

        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            # Redirects are followed here, not by httpx: each hop must pass the same rule before
            # the token goes with it, and a hop that does not is not followed at all.
            for _ in range(MAX_REDIRECTS + 1):
                with self._http().stream("GET", url, headers=headers) as answer:
                    location = answer.headers.get("location")
                    if answer.status_code not in _REDIRECTS or location is None:
                        return self._read(file, answer, max_bytes)
                    url = str(answer.url.join(location))
                if not self.may_send_token(url):
                    log.warning(
                        "file %s: Slack redirected its download off its file host; not following", file.id
                    )
                    raise FileUnavailable(
                        "Slack sent the download somewhere else (its sign-in page? does the bot have "
                        "files:read?)"
                    )
        except httpx.InvalidURL as error:
            raise FileUnavailable("its download link is not a Slack file link") from error
        except httpx.TransportError as error:
            raise TryLater(f"download: {type(error).__name__}") from error
        raise FileUnavailable(f"Slack redirected the download more than {MAX_REDIRECTS} times")

    def _read(self, file: SlackFile, answer: httpx.Response, max_bytes: int) -> bytes:
        status = answer.status_code
        if status in (404, 410):
            raise FileUnavailable("Slack no longer has it")
        if status == 429 or status >= 500:
            retry = answer.headers.get("retry-after")
            raise TryLater(f"download: HTTP {status}", float(retry) if retry and retry.isdigit() else None)
        if status != 200:
            raise FileUnavailable(f"Slack refused the download (HTTP {status})")
        content_type = answer.headers.get("content-type", "").lower()
        if content_type.startswith("text/html") and not file.content_type.startswith("text/html"):
            # Slack answers a download without a valid token (or without files:read) with its sign-in page.
            log.warning("file %s: Slack answered with a web page, not the file (files:read?)", file.id)
            raise FileUnavailable("Slack answered with its sign-in page (does the bot have files:read?)")
        declared = answer.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            size = megabytes(int(declared))
            raise FileUnavailable(f"{size}, over Productlane's {megabytes(max_bytes)} limit")
        data = bytearray()
        for chunk in answer.iter_bytes(_CHUNK):
            data += chunk
            if len(data) > max_bytes:
                raise FileUnavailable(f"over Productlane's {megabytes(max_bytes)} limit")
        return bytes(data)

    def _http(self) -> httpx.Client:
        with self._http_lock:
            if self._http_client is None:
                import httpx

                # Never follows a redirect itself: `download` checks each hop before sending the token.
                # The Web API client's TLS context, whose trusted certificates are loaded once, at
                # the first TLS handshake (a context of httpx's own loads a CA bundle per client).
                trust = (
                    self._client.ssl if isinstance(self._client.ssl, ssl.SSLContext) else LazyTrustContext()
                )
                self._http_client = httpx.Client(
                    timeout=DOWNLOAD_TIMEOUT, follow_redirects=False, verify=trust
                )
            return self._http_client

    def close(self) -> None:
        with self._http_lock:
            if self._http_client is not None:
                self._http_client.close()
                self._http_client = None
