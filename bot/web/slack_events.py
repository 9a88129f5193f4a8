"""`POST /slack/events`: Slack's requests, handed to the Bolt app.

Before anything in a request is read, its signature and timestamp are checked on the raw bytes
(`bot.web.slack_signature`): unsigned, forged, stale or malformed requests get a 401 and one
WARNING line, whatever their body holds. Only then is the body decoded and parsed; a signed body
that cannot be read (not UTF-8, not JSON, nested past what the parser takes) gets a 400, also
with one WARNING line. Bolt's own verification still runs behind this one.

What `slack_bolt.adapter.wsgi.SlackRequestHandler` does, minus reading the body: the route table
has read it, within the route's cap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest

from bot import bounded_json
from bot.background import RepeatedFailureLog
from bot.message_events import MessageEvents
from bot.message_events.dispatch import is_message_event
from bot.web.routes import MIB, Request, Response, Route
from bot.web.slack_signature import slack_signature_problem

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
# Slack documents no limit. Its largest payloads carry a whole view (up to 100 blocks of up to 3,000
# characters, form-encoded) or a long message with its blocks and files: a few hundred KiB at most.
# 1 MiB leaves room for that and still refuses what can only be abuse.
SLACK_MAX_BODY = MIB


def error_name(error: BaseException) -> str:
    """What is wrong with a body, in a few words and never any of the body itself."""
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(error, bounded_json.UnreadableJSON):
        return str(error)
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return f"{type(error).__name__} reading it"


def slack_events_route(
    app: App,
    message_events: MessageEvents | None = None,
    signing_secret: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Route:
    """Without a signing secret nothing can be verified, so every request is refused."""
    secret = signing_secret or ""
    failures = RepeatedFailureLog(log, "keeping a channel message")

    def refused(status: int, why: str, answer: str) -> Response:
        # Never the body, the signature or the timestamp: only that a request was refused, and why.
        log.warning("refused a request to %s: %s", SLACK_EVENTS_PATH, why)
        return Response.text(status, answer)

    def unreadable(error: Exception) -> Response:
        # Signed by Slack, yet unreadable: a 400 says so; a 500 would only have it sent again.
        return refused(400, f"signed, but the body cannot be read ({error_name(error)})", "bad request")

    def channel_message(payload: Any) -> Response | None:
        """A `message` event, answered here (see bot.message_events); None for anything else."""
        if message_events is None or not isinstance(payload, dict) or not is_message_event(payload):
            return None
        try:
            message_events.handle(payload)
        except Exception as error:
            # Slack sends the event again: nothing it carried is lost.
            failures.failed(error)
            return Response.text(500, "could not keep the message; send it again")
        failures.worked()
        return Response(200)

    def slack_events(request: Request) -> Response:
        problem = slack_signature_problem(
            request.body,
            request.headers.get("x-slack-request-timestamp"),
            request.headers.get("x-slack-signature"),
            secret,
            now=clock(),
        )
        if problem is not None:
            return refused(401, problem.value, "invalid request")
        try:
            body = request.body.decode("utf-8")
            payload = bounded_json.loads(body) if body.startswith("{") else None
        except ValueError as error:  # not UTF-8, not JSON, or nested too deeply
            return unreadable(error)
        handled = channel_message(payload)
        if handled is not None:
            return handled
        try:
            # Bolt parses the body (or its `payload` field) itself, unbounded (a RecursionError past
            # the recursion limit), and reads it as an object (a list fails in its context
            # building): whatever fails here is a body that cannot be read, signed or not.
            bolt_request = BoltRequest(body=body, query=request.query, headers=dict(request.headers))
            if bounded_json.nested_deeper_than(bolt_request.body, bounded_json.MAX_DEPTH):
                raise bounded_json.UnreadableJSON("nested too deeply")
        except Exception as error:
            return unreadable(error)
        answer = app.dispatch(bolt_request)
        if answer.status == 401:
            log.warning("refused a request to %s: bad signature or stale timestamp", SLACK_EVENTS_PATH)
        headers = [(name, value) for name, values in answer.headers.items() for value in values]
        return Response(answer.status, answer.body, [h for h in headers if h[0].lower() != "content-length"])

    return Route("POST", SLACK_EVENTS_PATH, slack_events, max_body_bytes=SLACK_MAX_BODY)
