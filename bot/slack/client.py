"""The bot's Slack Web API client: slack_sdk's `WebClient`, counting each failed call by method and
Slack's error code for `/metrics`. Nothing else changes: the call raises as before."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot import metrics
from bot.slack.errors import slack_error_code

__all__ = ["CountingWebClient"]


class CountingWebClient(WebClient):
    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
        try:
            return super().api_call(api_method, **kwargs)
        except SlackApiError as error:
            metrics.slack_api_error(api_method, slack_error_code(error))
            raise
        except OSError:
            metrics.slack_api_error(api_method, "network")
            raise
