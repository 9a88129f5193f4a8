"""`POST /productlane/webhooks`: Productlane's signed webhooks, handed to the updates receiver.

The route table refuses a body declared over the cap (413) before reading it; the receiver verifies
the signature on the raw bytes, stores the event and answers at once (see `bot.updates.receiver`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from bot.web.routes import Request, Response, Route

Receive = Callable[[bytes, Mapping[str, str]], tuple[int, Mapping[str, Any]]]


def productlane_webhooks_route(path: str, receive: Receive, max_body_bytes: int) -> Route:
    def webhook(request: Request) -> Response:
        status, body = receive(request.body, request.headers)
        return Response(status, json.dumps(body), [("content-type", "application/json")])

    return Route("POST", path, webhook, max_body_bytes=max_body_bytes)
