"""Command line: `productlane-slack [run|check|outbox|channels]` (also `python -m bot`)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from bot import __version__
from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, load_settings

# httpx imports its command line (click, rich, pygments: 3.7 MB) whenever they are installed, as
# they are beside dev tools; the bot never runs it. A None entry makes that import fail, which
# httpx expects (it is how it runs without its `cli` extra).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

# glibc gives each thread that allocates a malloc arena of its own, up to 8 a core. The bot's
# threads (listeners, senders, the HTTP server's) each fragment one, and under a steady backlog
# they grow a little every minute (about 0.2 MB/min in bench_soak); two arenas hold it flat.
MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def fewer_malloc_arenas() -> None:
    """Cap glibc's malloc arenas before the bot starts its threads, unless MALLOC_ARENA_MAX (the
    operator's) says otherwise. Elsewhere than glibc there is nothing to do."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError):  # musl and others: no glibc arenas to cap
        return


# Exit statuses: 0 fine, 1 a check or command failed, 2 the configuration is unusable.
EXIT_BAD_SETTINGS = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="productlane-slack",
        description="Turn Slack messages into Productlane feedback threads.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="run the bot (the default): socket mode if SLACK_APP_TOKEN is set")
    commands.add_parser("check", help="prove the set-up: Slack tokens, scopes, Productlane key")
    outbox = commands.add_parser("outbox", help="list or re-queue submissions waiting for Productlane")
    outbox.add_argument("--all", action="store_true", help="include delivered items")
    outbox.add_argument("--show-text", action="store_true", help="include message bodies")
    outbox_commands = outbox.add_subparsers(dest="outbox_command")
    retry = outbox_commands.add_parser("retry", help="re-queue one item, or every failed one")
    target = retry.add_mutually_exclusive_group(required=True)
    target.add_argument("item_id", nargs="?", help="the id shown by `productlane-slack outbox`")
    target.add_argument("--failed", action="store_true", help="re-queue every failed item")
    purge = outbox_commands.add_parser(
        "purge", help="delete delivered items and drafts older than OUTBOX_RETENTION_DAYS now"
    )
    purge.add_argument("--days", type=int, help="override OUTBOX_RETENTION_DAYS for this run")
    channels = commands.add_parser("channels", help="list, export or import the settings of channels")
    channels_commands = channels.add_subparsers(dest="channels_command")
    channels_commands.add_parser("export", help="print every channel's settings as an import file (JSON)")
    apply = channels_commands.add_parser("import", help="apply a file of channel settings (JSON or YAML)")
    apply.add_argument("file", help='{"channels": [{"channel": "C0123ABCD", "capture": "automatic", …}]}')
    apply.add_argument("--dry-run", action="store_true", help="check the file and show what would change")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error.report(), file=sys.stderr)
        return EXIT_BAD_SETTINGS
    configure_logging(settings.log_level, settings.log_format)
    return _dispatch(args, settings)


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "check":
        from bot.check import run_checks

        return run_checks(settings)
    if args.command == "outbox":
        from bot.commands.outbox import run_outbox_command

        return run_outbox_command(
            settings,
            retry_id=getattr(args, "item_id", None),
            retry_failed=bool(getattr(args, "failed", False)),
            purge_days=(
                (getattr(args, "days", None) or settings.outbox_retention_days)
                if getattr(args, "outbox_command", None) == "purge"
                else None
            ),
            include_delivered=args.all,
            show_text=args.show_text,
        )
    if args.command == "channels":
        from bot.commands.channels import run_channels_command

        return run_channels_command(
            settings,
            action=args.channels_command,
            path=getattr(args, "file", None),
            dry_run=bool(getattr(args, "dry_run", False)),
        )
    fewer_malloc_arenas()
    from bot.runtime import run_bot

    return run_bot(settings)


if __name__ == "__main__":
    sys.exit(main())
