"""`POST /slack/events`: Slack's requests, handed to the Bolt app.

Bolt's request-verification middleware checks the signature and refuses a timestamp more than five
minutes old (401). What `slack_bolt.adapter.wsgi.SlackRequestHandler` does, minus reading the body:
the route table has read it, within the route's cap.
"""

from __future__ import annotations

import json
import logging

from slack_bolt import App, BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.background import RepeatedFailureLog
from bot.message_events import MessageEvents
from bot.message_events.dispatch import is_message_event
from bot.web.routes import MIB, Request, Response, Route

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
# Slack documents no limit. Its largest payloads carry a whole view (up to 100 blocks of up to 3,000
# characters, form-encoded) or a long message with its blocks and files: a few hundred KiB at most.
# 1 MiB leaves room for that and still refuses what can only be abuse.
SLACK_MAX_BODY = MIB


def slack_events_route(
    app: App, message_events: MessageEvents | None = None, signing_secret: str | None = None
) -> Route:
    verifier = SignatureVerifier(signing_secret) if signing_secret else None
    failures = RepeatedFailureLog(log, "keeping a channel message")

    def channel_message(request: Request, body: str) -> Response | None:
        """A `message` event, answered here (see bot.message_events); None for anything else."""
        if message_events is None or verifier is None or not body.startswith("{"):
            return None
        try:
            payload = json.loads(body)
        except ValueError:
            return None
        if not isinstance(payload, dict) or not is_message_event(payload):
            return None
        if not verifier.is_valid(
            body,
            request.headers.get("x-slack-request-timestamp", ""),
            request.headers.get("x-slack-signature", ""),
        ):
            log.warning("refused a request to %s: bad signature or stale timestamp", SLACK_EVENTS_PATH)
            return Response.text(401, "invalid request")
        try:
            message_events.handle(payload)
        except Exception as error:
            # Slack sends the event again: nothing it carried is lost.
            failures.failed(error)
            return Response.text(500, "could not keep the message; send it again")
        failures.worked()
        return Response(200)

    def slack_events(request: Request) -> Response:
        try:
            body = request.body.decode("utf-8")
        except UnicodeDecodeError:
            return Response.text(400, "the body is not UTF-8")
        handled = channel_message(request, body)
        if handled is not None:
            return handled
        answer = app.dispatch(BoltRequest(body=body, query=request.query, headers=dict(request.headers)))
        if answer.status == 401:
            # Never the body or the signature: only that one was refused.
            log.warning("refused a request to %s: bad signature or stale timestamp", SLACK_EVENTS_PATH)
        headers = [(name, value) for name, values in answer.headers.items() for value in values]
        return Response(answer.status, answer.body, [h for h in headers if h[0].lower() != "content-length"])

    return Route("POST", SLACK_EVENTS_PATH, slack_events, max_body_bytes=SLACK_MAX_BODY)
