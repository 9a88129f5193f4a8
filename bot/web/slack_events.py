"""`POST /slack/events`: Slack's requests, handed to the Bolt app.

Bolt's request-verification middleware checks the signature and refuses a timestamp more than five
minutes old (401). What `slack_bolt.adapter.wsgi.SlackRequestHandler` does, minus reading the body:
the route table has read it, within the route's cap.
"""

from __future__ import annotations

import logging

from slack_bolt import App, BoltRequest

from bot.web.routes import MIB, Request, Response, Route

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
# Slack documents no limit. Its largest payloads carry a whole view (up to 100 blocks of up to 3,000
# characters, form-encoded) or a long message with its blocks and files: a few hundred KiB at most.
# 1 MiB leaves room for that and still refuses what can only be abuse.
SLACK_MAX_BODY = MIB


def slack_events_route(app: App) -> Route:
    def slack_events(request: Request) -> Response:
        try:
            body = request.body.decode("utf-8")
        except UnicodeDecodeError:
            return Response.text(400, "the body is not UTF-8")
        answer = app.dispatch(BoltRequest(body=body, query=request.query, headers=dict(request.headers)))
        if answer.status == 401:
            # Never the body or the signature: only that one was refused.
            log.warning("refused a request to %s: bad signature or stale timestamp", SLACK_EVENTS_PATH)
        headers = [(name, value) for name, values in answer.headers.items() for value in values]
        return Response(answer.status, answer.body, [h for h in headers if h[0].lower() != "content-length"])

    return Route("POST", SLACK_EVENTS_PATH, slack_events, max_body_bytes=SLACK_MAX_BODY)
