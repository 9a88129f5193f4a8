"""The bot's configuration: read once from the environment and `.env`, then passed in explicitly.

Environment variables win over `.env`. Secrets are `SecretStr`, so they never show up in a repr,
a log line or an error message.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PainLevelName = Literal["UNKNOWN", "LOW", "MEDIUM", "HIGH"]
LogLevelName = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormatName = Literal["text", "json"]

# How long a client on PORT may take to send a request's headers, and its body after them, by
# default: Slack sends a whole request in milliseconds, and these leave room for a congested network
# several hundred times over.
DEFAULT_HEADERS_DEADLINE_SECONDS = 10.0
DEFAULT_BODY_DEADLINE_SECONDS = 10.0

# Where each variable comes from, shown next to any problem with it.
WHERE_TO_GET: dict[str, str] = {
    "SLACK_BOT_TOKEN": "Slack app settings → OAuth & Permissions → Bot User OAuth Token (xoxb-…)",
    "SLACK_APP_TOKEN": (
        "Slack app settings → Basic Information → App-Level Tokens, "
        "a token with the connections:write scope (xapp-…)"
    ),
    "SLACK_SIGNING_SECRET": "Slack app settings → Basic Information → App Credentials → Signing Secret",
    "SLACK_API_URL": "leave unset for Slack itself (https://slack.com/api/)",
    "PRODUCTLANE_API_KEY": (
        "Productlane → Settings → API → create a v2 key (pl_v2_…) with the threads:write scope "
        "(and files:write, so screenshots are copied into Productlane)"
    ),
    "PRODUCTLANE_API_URL": "leave unset for Productlane itself (https://productlane.com/api/v2)",
    "PRODUCTLANE_THREAD_URL": "a link template containing {id}, e.g. https://productlane.com/feedback/{id}",
    "DEFAULT_PAIN_LEVEL": "one of UNKNOWN, LOW, MEDIUM, HIGH",
    "DEFAULT_NOTIFY_SLACK": "true or false",
    "DEFAULT_NOTIFY_EMAIL": "true or false",
    "LOG_LEVEL": "one of DEBUG, INFO, WARNING, ERROR",
    "DATABASE_URL": "sqlite:///productlane-slack.db, or postgresql+psycopg://user:pass@host/db",
    "SQLITE_BUSY_TIMEOUT_SECONDS": (
        "seconds, 0.1 to 600 (default 10): how long a write to a SQLite outbox waits for another "
        "process's lock before it fails"
    ),
    "BIND_ADDRESS": (
        "the IP address PORT listens on: 0.0.0.0 (default, every IPv4 interface), :: (every IPv6 "
        "interface, IPv6 only), or 127.0.0.1 to keep the probes, webhooks and /metrics on this machine"
    ),
    "PORT": "the HTTP port: Slack's requests in HTTP mode, /healthz and /readyz in both modes, e.g. 3000",
    "HTTP_HEADERS_DEADLINE_SECONDS": (
        "seconds, 1 to 300 (default 10): how long a client on PORT may take to send a request's "
        "headers, from its first byte, before its connection is closed"
    ),
    "HTTP_BODY_DEADLINE_SECONDS": (
        "seconds, 1 to 300 (default 10): how long a client on PORT may take to send a request's body "
        "once its headers are in, plus 1 s per 64 KiB it declares, before its connection is closed"
    ),
    "DELIVERY_LEASE_SECONDS": "seconds, between 1 and 600 (default 20)",
    "PRODUCTLANE_WRITES_PER_MINUTE": (
        "whole writes a minute, 1 to 6000 (default 60, Productlane's documented limit per API key): "
        "less when another integration shares the key, more when your plan allows more"
    ),
    "PRODUCTLANE_UPLOADS_PER_MINUTE": (
        "whole file uploads a minute, 1 to 6000 (default 29, one under Productlane's documented 30 "
        "per API key): less when another integration uploads with the key, more when your plan "
        "allows more"
    ),
    "OUTBOX_RETENTION_DAYS": "whole days, at least 1 (default 90)",
    "UPLOADS_PER_CHANNEL_PER_DAY": (
        "whole uploads, 1 to 500 (default 100): the most of Productlane's 500 file uploads a day one "
        "Slack channel may take; its files past that stay links to Slack"
    ),
    "FILES_PER_SUBMISSION": (
        "whole files, 0 to 500 (default 20): the most files one submission (a whole thread included) "
        "copies into Productlane; the rest stay links to Slack"
    ),
    "PRODUCTLANE_WEBHOOK_SECRET": (
        "Productlane → Settings → Integrations → API → Webhooks: the signing secret shown when the "
        "webhook is created (several, comma-separated, while rotating)"
    ),
    "PRODUCTLANE_POLL_SECONDS": "seconds between polls without webhooks, 0 to turn polling off (default 60)",
    "UPDATES_EDIT_CONFIRMATION": "true or false (default true)",
    "UPDATES_POST_DONE": "true or false (default true)",
    "UPDATES_POST_SHIPPED": "true or false (default true)",
    # The conversation (follow-ups and the team's replies):
    "UPDATES_POST_REPLIES": (
        "true or false (default true): post the team's replies from Productlane in the Slack thread "
        "(needs the webhook, with message.* ticked)"
    ),
    "FOLLOWUP_BATCH_SECONDS": (
        "seconds, 1 to 3600 (default 10): a thread gets at most one write of follow-ups this often; "
        "replies within half of it of the first go together"
    ),
    "CATCH_UP_AFTER_SECONDS": (
        "seconds, 0 to 3600 (default 30): after the outbox database was away this long, the messages "
        "of automatic channels and followed threads are read back from Slack"
    ),
    "AUTOMATIC_SETTLE_SECONDS": (
        "seconds, 0 to 60 (default 2): how long a message captured automatically waits before its "
        "turn, so that one posted just before it but delivered later still goes first"
    ),
    "FOLLOWUP_DAYS": (
        "whole days, 0 to 3650 (default 30): how long replies in a filed message's Slack thread are "
        "added to its Productlane thread; 0 turns follow-ups off"
    ),
    # Flood limits (automatic capture and follow-ups; what goes over is held for the admins):
    "AUTOMATIC_PER_AUTHOR_HOUR": (
        "whole new threads an hour, 0 for no limit (default 20): how many of one person's messages "
        "in automatic channels become threads within an hour; more are held for an admin"
    ),
    "AUTOMATIC_PER_CHANNEL_HOUR": (
        "whole new threads an hour, 0 for no limit (default 100): how many messages of one automatic "
        "channel become threads within an hour; more are held for an admin"
    ),
    "FOLLOWUPS_PER_AUTHOR_HOUR": (
        "whole follow-ups an hour, 0 for no limit (default 120): how many of one person's replies in "
        "filed threads reach Productlane within an hour; more are held for an admin"
    ),
    "FOLLOWUPS_PER_CHANNEL_HOUR": (
        "whole follow-ups an hour, 0 for no limit (default 600): how many replies in one channel's "
        "filed threads reach Productlane within an hour; more are held for an admin"
    ),
    # Who may change a channel's settings:
    "FEEDBACK_ADMINS": (
        "Slack user ids, comma-separated (a profile → ⋮ → Copy member ID), e.g. U0123ABCD,U0456EFGH: "
        "besides workspace admins and owners, who may change a channel's settings"
    ),
    # Seeing how the bot is doing (metrics, logs):
    "METRICS_TOKEN": (
        "a long random string of your choosing (e.g. `openssl rand -hex 32`), also given to Prometheus "
        "as its bearer token; unset leaves /metrics open"
    ),
    "LOG_FORMAT": "text (the default: one readable line per entry) or json (one JSON object a line)",
    # Triage (the modal's company, link, tags and assignee):
    "CATALOG_REFRESH_SECONDS": (
        "seconds between refreshes of the companies, projects, issues, tags and members the modal "
        "offers, at least 1 (default 300); 0 turns the triage fields off"
    ),
    "HOME_REPUBLISH_SECONDS": (
        "seconds, 1 to 3600 (default 5): a person's App Home is published again at most this often "
        "while their feedback changes (sent, refused, its status in Productlane)"
    ),
    "FEEDBACK_REACTION": (
        "an emoji's name without colons, e.g. inbox_tray (a custom emoji works too); empty turns "
        "filing by reaction off"
    ),
}


def _is_http_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


class Settings(BaseSettings):
    """Everything the bot needs from its environment."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # Never echo a value back in an error: tokens may be among them.
        hide_input_in_errors=True,
    )

    slack_bot_token: SecretStr
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    productlane_api_key: SecretStr
    productlane_api_url: str = "https://productlane.com/api/v2"
    # Productlane documents no URL for a thread; this default is what third-party tools link to.
    productlane_thread_url: str = "https://productlane.com/feedback/{id}"
    default_pain_level: PainLevelName = "UNKNOWN"
    default_notify_slack: bool = False
    default_notify_email: bool = False
    log_level: LogLevelName = "INFO"
    database_url: str = "sqlite:///productlane-slack.db"
    port: int = Field(default=3000, ge=1, le=65535)
    # Where PORT listens. Every interface by default, as a container's probes need; 127.0.0.1 keeps
    # the probes and /metrics on this machine (socket mode needs no port open to anyone else).
    bind_address: str = "0.0.0.0"  # noqa: S104
    # A client slower than these is closed, so clients trickling their bytes cannot hold every
    # connection (bot/web/slow_clients.py). Shorter makes holding connections cost an attacker more
    # new ones a second; at least 1 s, as the server looks for late clients once a second.
    http_headers_deadline_seconds: float = Field(default=DEFAULT_HEADERS_DEADLINE_SECONDS, ge=1.0, le=300.0)
    http_body_deadline_seconds: float = Field(default=DEFAULT_BODY_DEADLINE_SECONDS, ge=1.0, le=300.0)
    # How long a replica may hold a submission it is sending before another may take it over
    # (after a crash). Longer than Productlane's slowest answer; shorter means faster recovery.
    delivery_lease_seconds: float = Field(default=20.0, ge=1.0, le=600.0)
    # How long a write to a SQLite outbox waits while another process (a command, a second bot on the
    # same file) holds the lock, before it fails and is handled as the database being away.
    sqlite_busy_timeout_seconds: float = Field(default=10.0, ge=0.1, le=600.0)
    # The bot's share of the API key's write budget (new threads, uploads, follow-ups, tag PATCHes),
    # counted across every replica on this database. Productlane documents 60 a minute per key; an
    # operator who shares the key with another integration gives the bot part of it, and a plan with
    # a higher limit can use that.
    productlane_writes_per_minute: int = Field(default=60, ge=1, le=6000)
    # The bot's share of the key's file uploads, each also one of the writes above. Productlane
    # documents 30 a minute per key; the default keeps one under it, as the limiter counts a slot
    # when it is taken and Productlane the upload when it arrives (bot.budgets.file_copies).
    productlane_uploads_per_minute: int = Field(default=29, ge=1, le=6000)
    # Productlane takes 500 uploads a day per workspace: no channel may take more than this many of
    # them, so one flooding channel cannot use up everyone's files. The rest stay links to Slack.
    uploads_per_channel_per_day: int = Field(default=100, ge=1, le=500)
    # The most files one submission copies ("include the whole thread" on a thread of hundreds).
    files_per_submission: int = Field(default=20, ge=0, le=500)
    # Delivered submissions (customers' words) are deleted this many days after delivery.
    outbox_retention_days: int = Field(default=90, ge=1)
    # Productlane → Slack (close the loop). With a webhook secret, signed webhooks drive the
    # updates; without one the bot polls the threads it created every PRODUCTLANE_POLL_SECONDS.
    productlane_webhook_secret: SecretStr | None = None
    productlane_poll_seconds: float = Field(default=60.0, ge=0.0, le=86_400.0)
    # Which updates reach Slack: the confirmation reply kept current, the ✅ and 🚀 replies.
    updates_edit_confirmation: bool = True
    updates_post_done: bool = True
    updates_post_shipped: bool = True
    # The conversation: the team's replies from Productlane (message.sent) are posted in
    # the Slack thread; people's replies in a filed message's Slack thread reach Productlane for
    # FOLLOWUP_DAYS after it was filed (0: never).
    updates_post_replies: bool = True
    followup_days: int = Field(default=30, ge=0, le=3650)
    # At most one write of follow-ups per thread this often; replies that come within half of it of
    # the first wait for each other and go together.
    followup_batch_seconds: float = Field(default=10.0, ge=1.0, le=3600.0)
    # Slack retries an unacked event for about five minutes; after an outage of the database at
    # least this long, what it gave up on is read back from the channels' history.
    catch_up_after_seconds: float = Field(default=30.0, ge=0.0, le=3600.0)
    # Automatic capture sends a channel's messages in the order posted; Slack does not promise to
    # deliver them in that order. Each captured message waits this long before its turn, so that one
    # posted just before it but delivered a moment later still goes first. Longer covers slower
    # deliveries (replicas far apart); 0 sends each at once, and a late one after those posted later.
    automatic_settle_seconds: float = Field(default=2.0, ge=0.0, le=60.0)
    # Flood limits, each counted over a sliding hour across every replica; 0: no limit. What goes
    # over is held (kept, not sent) until an admin files or drops it on the App Home. The defaults
    # are far above what people write by hand — 20 new threads from one person an hour is one every
    # three minutes without a pause, 100 a channel is a busy support channel's day — and far below
    # the write budget (60 a minute): one runaway author or integration cannot take it all.
    automatic_per_author_hour: int = Field(default=20, ge=0, le=100_000)
    automatic_per_channel_hour: int = Field(default=100, ge=0, le=100_000)
    # Replies are shorter and come faster than new messages (a live conversation with a customer):
    # two a minute from one person for a whole hour, ten a minute in one channel.
    followups_per_author_hour: int = Field(default=120, ge=0, le=100_000)
    followups_per_channel_hour: int = Field(default=600, ge=0, le=100_000)
    # Capture: reacting with this emoji to a message files it with the defaults.
    # Empty turns it off.
    feedback_reaction: str = "inbox_tray"
    # Who may change channel settings and see delivery health, besides workspace admins and owners.
    feedback_admins: str = ""
    # When set, GET /metrics requires "Authorization: Bearer <token>", so metrics are not public.
    metrics_token: SecretStr | None = None
    # "json": one JSON object a line, for log shippers; "text" (the default) for people.
    log_format: LogFormatName = "text"
    # A person's App Home is published again at most this often while their feedback changes: a burst
    # of changes (a backlog sent, bulk edits in Productlane) becomes one publish each, within Slack's
    # limit on views.publish.
    home_republish_seconds: float = Field(default=5.0, ge=1.0, le=3600.0)
    # Triage: how often the local copy of Productlane's lists is refreshed; 0: no fields.
    catalog_refresh_seconds: float = Field(default=300.0, ge=0.0, le=86_400.0)

    @field_validator("default_pain_level", "log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("slack_signing_secret", "productlane_webhook_secret", "metrics_token")
    @classmethod
    def _empty_secret_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value() else None

    @field_validator("productlane_api_key")
    @classmethod
    def _api_key_present(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("is empty")
        return value

    @field_validator("bind_address", mode="before")
    @classmethod
    def _an_address(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        value = value.strip().strip("[]")
        # An IP literal only: a name such as "localhost" may resolve to two addresses, and the
        # server listens on exactly one.
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("must be an IP address such as 0.0.0.0, :: or 127.0.0.1") from None
        return value

    @field_validator("slack_api_url", "productlane_api_url")
    @classmethod
    def _url_shape(cls, value: str) -> str:
        if not _is_http_url(value):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("productlane_thread_url")
    @classmethod
    def _thread_url_shape(cls, value: str) -> str:
        if not _is_http_url(value.replace("{id}", "x")):
            raise ValueError("must be an http(s) URL")
        if "{id}" not in value:
            raise ValueError("must contain {id}, where the thread id goes")
        return value

    @field_validator("feedback_reaction")
    @classmethod
    def _reaction_name(cls, value: str) -> str:
        name = value.strip().strip(":").strip()
        if name and not re.fullmatch(r"[a-z0-9_+'\-]{1,100}", name):
            raise ValueError("must be an emoji's name such as inbox_tray (lower case, no spaces)")
        return name

    @field_validator("feedback_admins")
    @classmethod
    def _admin_ids(cls, value: str) -> str:
        ids = [part.strip() for part in value.split(",") if part.strip()]
        wrong = [part for part in ids if not re.fullmatch(r"[UW][A-Z0-9]{2,}", part)]
        if wrong:
            raise ValueError(
                f"must be Slack user ids such as U0123ABCD, comma-separated ({', '.join(wrong[:3])} is not)"
            )
        return ",".join(ids)

    @field_validator("catalog_refresh_seconds")
    @classmethod
    def _refresh_not_too_often(cls, value: float) -> float:
        if 0 < value < 1:
            raise ValueError("must be 0 (off) or at least 1 second")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_shape(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @model_validator(mode="after")
    def _has_a_way_to_reach_slack(self) -> Settings:
        if self.slack_app_token is None and self.slack_signing_secret is None:
            raise ValueError(
                "set SLACK_APP_TOKEN for socket mode (local), or SLACK_SIGNING_SECRET for HTTP mode"
            )
        return self

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    def slack_api_base_url(self) -> str:
        # slack_sdk joins method names onto the base URL, so it must end with a slash.
        return self.slack_api_url if self.slack_api_url.endswith("/") else self.slack_api_url + "/"

    def thread_url(self, thread_id: str) -> str:
        return self.productlane_thread_url.replace("{id}", thread_id)

    def sqlite_busy_timeout_ms(self) -> int:
        return round(self.sqlite_busy_timeout_seconds * 1000)

    def feedback_admin_ids(self) -> frozenset[str]:
        return frozenset(part for part in self.feedback_admins.split(",") if part)

    def webhook_secrets(self) -> list[str]:
        """The webhook signing secrets: one, or several (comma-separated) while rotating."""
        if self.productlane_webhook_secret is None:
            return []
        raw = self.productlane_webhook_secret.get_secret_value()
        return [secret.strip() for secret in raw.split(",") if secret.strip()]


@dataclass(frozen=True)
class SettingsProblem:
    variable: str
    problem: str

    def describe(self) -> str:
        where = WHERE_TO_GET.get(self.variable)
        return f"{self.variable} {self.problem}" + (f" — {where}" if where else "")


class SettingsError(Exception):
    """The environment cannot run the bot; `problems` names each variable at fault."""

    def __init__(self, problems: list[SettingsProblem]) -> None:
        self.problems = problems
        super().__init__(self.report())

    def report(self) -> str:
        lines = ["productlane-slack cannot start; fix these settings (in the environment or .env):"]
        lines += [f"  ✗ {problem.describe()}" for problem in self.problems]
        return "\n".join(lines)


class _SlackModeVariables(BaseSettings):
    """Only the two variables that choose how Slack reaches the bot, read without validation so
    that their absence is reported alongside every other problem, not after them."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    slack_app_token: str = ""
    slack_signing_secret: str = ""


_NO_SLACK_MODE = SettingsProblem(
    "SLACK_APP_TOKEN or SLACK_SIGNING_SECRET",
    "is not set: set SLACK_APP_TOKEN for socket mode (local), "
    "or SLACK_SIGNING_SECRET for HTTP mode (production)",
)


def _problems_from(error: ValidationError) -> list[SettingsProblem]:
    problems: list[SettingsProblem] = []
    for detail in error.errors(include_input=False, include_url=False):
        location = detail.get("loc") or ()
        if not location:
            continue  # the model-wide check; load_settings reports it on its own
        variable = str(location[0]).upper()
        if detail["type"] == "missing":
            text = "is not set"
        else:
            text = str(detail["msg"]).removeprefix("Value error, ")
            text = text if text.startswith(("must", "is ")) else f"is invalid: {text}"
        problems.append(SettingsProblem(variable, text))
    return problems


def load_settings(env_file: Path | str | None = ".env") -> Settings:
    """Read the settings once; raise SettingsError naming every problem (and no secret value)."""
    problems: list[SettingsProblem] = []
    mode = _SlackModeVariables(_env_file=env_file)
    if not mode.slack_app_token.strip() and not mode.slack_signing_secret.strip():
        problems.append(_NO_SLACK_MODE)
    try:
        settings = Settings(_env_file=env_file)
    except ValidationError as error:
        problems += _problems_from(error)
    if problems:
        raise SettingsError(problems)
    return settings
