"""`productlane-slack channels` (list), `channels export` (the settings as an import file, JSON) and
`channels import FILE [--dry-run]` (apply a file, JSON or YAML; see `bot.channels.settings_file`).

An import is all or nothing: a file with any problem is refused with one line per problem and exit
status 2, and nothing is applied; a good one is applied in one transaction. Running bots pick the
change up within a second or two. A channel that captures automatically needs the bot in it: the
import joins a public channel and says which private ones must invite the bot.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from bot.channels.membership import Membership, ensure_member
from bot.channels.model import ChannelSettings
from bot.channels.settings_file import exported, is_yaml, parse_settings_file
from bot.channels.store import CLI, Change, ChannelSettingsStore
from bot.delivery.outbox import Outbox
from bot.settings import Settings
from bot.tables import open_database

log = logging.getLogger(__name__)

EXIT_FAILED = 1
EXIT_BAD_FILE = 2
FIELDS_SHOWN = ("company_id", "pain_level", "tag_ids", "capture", "confirm", "followups", "replies")


def _value(settings: ChannelSettings, field: str) -> str:
    value = getattr(settings, field)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(value) or "-"
    return "-" if value is None else str(getattr(value, "value", value))


def describe(
    settings: ChannelSettings, emoji: str, changed: tuple[str | None, datetime] | None = None
) -> str:
    """One channel's settings in a line (the defaults spelled out: what happens there)."""
    capture = (
        settings.capture.value if settings.capture else (f"reaction (:{emoji}:)" if emoji else "shortcut")
    )
    parts = [
        f"{settings.channel}",
        f"capture={capture}",
        f"confirm={settings.confirmation.value}",
        f"company={_value(settings, 'company_id')}",
        f"pain={_value(settings, 'pain_level')}",
        f"tags={_value(settings, 'tag_ids')}",
        f"followups={_value(settings, 'followups')}",
        f"replies={_value(settings, 'replies')}",
    ]
    if changed is not None:
        who, when = changed
        parts.append(f"(changed {when:%Y-%m-%d %H:%M} UTC by {who or 'someone'})")
    return "  ".join(parts)


def change_line(change: Change) -> str:
    before = change.before or ChannelSettings(channel=change.channel)
    if not change.changed:
        return f"{change.channel}: unchanged"
    differences = [
        f"{field} {_value(before, field)} → {_value(change.after, field)}"
        for field in FIELDS_SHOWN
        if getattr(before, field) != getattr(change.after, field)
    ]
    return f"{change.channel}: " + "; ".join(differences)


def _list(store: ChannelSettingsStore, settings: Settings, echo: Callable[[str], None]) -> int:
    snapshot = store.load()
    everywhere = (
        f"the shortcut and the :{settings.feedback_reaction}: emoji"
        if settings.feedback_reaction
        else ("the shortcut")
    )
    echo(
        f"{len(snapshot.channels)} channel(s) with settings; every other channel: {everywhere}, "
        "a reply in the thread"
    )
    for channel in snapshot.channels:
        echo(describe(channel, settings.feedback_reaction, store.changed_by(channel.channel)))
    return 0


def _join_automatic(settings: Settings, channels: Sequence[str], echo: Callable[[str], None]) -> None:
    """Automatic capture sees only channels the bot is in: join the public ones, name the others."""
    if not channels:
        return
    from slack_sdk import WebClient

    from bot.slack.lookups import SlackLookups

    client = WebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_base_url(), timeout=10
    )
    lookups = SlackLookups(client)
    for channel in channels:
        try:
            outcome = ensure_member(client, lookups, channel)
        except Exception as error:
            echo(
                f"{channel}: captures automatically; could not check that the bot is in it "
                f"({type(error).__name__})"
            )
            continue
        if outcome.membership is Membership.JOINED:
            echo(f"{channel}: captures automatically; the bot joined the channel")
        elif outcome.membership is Membership.INVITE_NEEDED:
            echo(f"{channel}: captures automatically, but the bot is not in it: invite it there (/invite @…)")
        elif outcome.membership is Membership.UNKNOWN:
            echo(
                f"{channel}: captures automatically, but the bot could not join ({outcome.problem}): "
                "invite it"
            )


def _import(
    store: ChannelSettingsStore,
    settings: Settings,
    path: str,
    dry_run: bool,
    echo: Callable[[str], None],
    join: Callable[[Settings, Sequence[str], Callable[[str], None]], None],
) -> int:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        echo(f"{path}: cannot read the file ({reason}); nothing applied")
        return EXIT_BAD_FILE
    entries, problems = parse_settings_file(text, yaml=is_yaml(path))
    if problems:
        echo(f"{path}: refused, nothing applied ({len(problems)} problem(s)):")
        for problem in problems:
            echo(f"  {problem}")
        return EXIT_BAD_FILE
    edits = [(entry.channel, entry.values) for entry in entries]
    changes = store.preview(edits) if dry_run else store.apply(edits, by=CLI)
    for change in changes:
        echo(change_line(change))
    changed = sum(change.changed for change in changes)
    if dry_run:
        echo(f"dry run: {changed} of {len(changes)} channel(s) would change; nothing applied")
        return 0
    echo(f"applied: {changed} of {len(changes)} channel(s) changed")
    join(settings, [change.channel for change in changes if change.after.captures_automatically], echo)
    return 0


def run_channels_command(
    settings: Settings,
    *,
    action: str | None,
    path: str | None = None,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
    outbox: Outbox | None = None,
    join: Callable[[Settings, Sequence[str], Callable[[str], None]], None] = _join_automatic,
) -> int:
    try:
        db = (
            outbox.database
            if outbox is not None
            else open_database(
                settings.database_url, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms()
            )
        )
    except Exception as error:
        echo(f"cannot open the database in DATABASE_URL ({type(error).__name__})")
        return EXIT_FAILED
    try:
        store = ChannelSettingsStore(db)
        if action == "export":
            echo(json.dumps(exported(store.load().channels), indent=2, ensure_ascii=False))
            return 0
        if action == "import" and path is not None:
            return _import(store, settings, path, dry_run, echo, join)
        return _list(store, settings, echo)
    finally:
        if outbox is None:
            db.close()
