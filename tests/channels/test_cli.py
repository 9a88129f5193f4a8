"""`productlane-slack channels`, `channels export` and `channels import FILE` as an operator runs them,
beside a running bot on the same database: a good file is applied whole (and the bot acts on it within
seconds), a bad one refused whole with a line per problem and exit status 2."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from tests.channels.rig import CHANNEL, environment, message_event, replica, threads_with
from tests.databases import database_url
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.running_bot import run_command, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

NOT_JOINED, INVITE_ONLY = "C0NOTJOIN1", "G0INVITE01"


def channels(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str]:
    """Exit status and what it printed (the log, on stderr, aside)."""
    result = run_command([sys.executable, "-m", "bot", "channels", *args], env, cwd)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout


def test_list_export_and_import_beside_a_running_bot(tmp_path: Path) -> None:
    url = database_url("sqlite", tmp_path)
    with FakeSlack() as slack, FakeProductlane() as productlane:
        slack.web.add_channel(NOT_JOINED, "not-joined", is_member=False)
        slack.web.add_channel(INVITE_ONLY, "invite-only", is_private=True, is_member=False)
        env = environment(slack, productlane, tmp_path, "socket", url)
        with replica(slack, productlane, tmp_path / "bot", "socket", url) as bot:
            status, out = channels(env, tmp_path)
            assert status == 0, out
            assert out.startswith(
                "0 channel(s) with settings; every other channel: the shortcut and the :inbox_tray:"
            )

            good = tmp_path / "channels.json"
            good.write_text(
                json.dumps(
                    {
                        "channels": [
                            {
                                "channel": CHANNEL,
                                "company_id": "cmp_1",
                                "pain_level": "HIGH",
                                "tags": ["tag_1"],
                                "capture": "automatic",
                                "confirm": "reaction",
                            },
                            {"channel": NOT_JOINED, "capture": "automatic"},
                            {"channel": INVITE_ONLY, "capture": "automatic", "replies": False},
                        ]
                    }
                )
            )
            status, out = channels(env, tmp_path, "import", str(good))
            assert status == 0, out
            assert (
                f"{CHANNEL}: company_id - → cmp_1; pain_level - → HIGH; tag_ids - → tag_1; "
                "capture - → automatic; confirm - → reaction" in out
            )
            assert "applied: 3 of 3 channel(s) changed" in out
            assert f"{NOT_JOINED}: captures automatically; the bot joined the channel" in out
            assert f"{INVITE_ONLY}: captures automatically, but the bot is not in it: invite it there" in out
            assert slack.web.channels[NOT_JOINED]["is_member"]

            # The running bot acts on it without a restart: once its copy of the settings is current,
            # a new message there is filed (how soon: each replica reads them every second).
            ts = "1764360000.000100"

            def filed_one() -> bool:
                nonlocal ts
                if threads_with(productlane, "Imported settings work"):
                    return True
                bot.event(message_event(slack, ts, f"Imported settings work {ts}"))
                ts = f"{float(ts) + 1:.6f}"
                time.sleep(0.25)
                return False

            wait_until(filed_one, "the running bot to file a message in the imported channel", 60)
            assert productlane.threads[-1]["pain_level"] == "HIGH"

            status, out = channels(env, tmp_path)
            assert out.splitlines()[0].startswith("3 channel(s) with settings")
            assert (
                f"{CHANNEL}  capture=automatic  confirm=reaction  company=cmp_1  pain=HIGH  tags=tag_1" in out
            )
            assert "by cli)" in out

            status, exported = channels(env, tmp_path, "export")
            assert status == 0
            document = json.loads(exported)
            assert document["channels"][0] == {
                "channel": CHANNEL,
                "company_id": "cmp_1",
                "pain_level": "HIGH",
                "tags": ["tag_1"],
                "capture": "automatic",
                "confirm": "reaction",
                "followups": True,
                "replies": True,
            }

            # A dry run of a YAML file shows what would change and applies nothing.
            yaml_file = tmp_path / "more.yaml"
            yaml_file.write_text(
                f"channels:\n  - channel: {CHANNEL}\n    confirm: private\n    company_id: null\n"
            )
            status, out = channels(env, tmp_path, "import", "--dry-run", str(yaml_file))
            assert status == 0, out
            assert f"{CHANNEL}: company_id cmp_1 → -; confirm reaction → private" in out
            assert "dry run: 1 of 1 channel(s) would change; nothing applied" in out
            assert json.loads(channels(env, tmp_path, "export")[1]) == document

            # A bad file: refused whole, a line per problem, exit status 2, nothing applied.
            bad = tmp_path / "bad.json"
            bad.write_text(
                json.dumps(
                    {
                        "channels": [
                            {"channel": CHANNEL, "confirm": "private"},
                            {"channel": "general", "capture": "sometimes"},
                            {"channel": NOT_JOINED, "pain_level": "URGENT", "colour": "red"},
                            {"channel": CHANNEL},
                        ]
                    }
                )
            )
            status, out = channels(env, tmp_path, "import", str(bad))
            assert status == 2, out
            assert out.splitlines() == [
                f"{bad}: refused, nothing applied (5 problem(s)):",
                '  entry 2 (general): "general" is not a Slack channel id (like C0123ABCD)',
                '  entry 2 (general): capture "sometimes" is not one of shortcut, reaction, automatic',
                f'  entry 3 ({NOT_JOINED}): pain level "URGENT" is not one Productlane has '
                "(UNKNOWN, LOW, MEDIUM, HIGH)",
                f'  entry 3 ({NOT_JOINED}): unknown key "colour" (the keys are channel, company_id, '
                "pain_level, tags, capture, confirm, followups, replies)",
                f"  entry 4 ({CHANNEL}): {CHANNEL} is also entry 1; name each channel once",
            ]
            assert json.loads(channels(env, tmp_path, "export")[1]) == document

            status, out = channels(env, tmp_path, "import", str(tmp_path / "missing.json"))
            assert status == 2
            assert "cannot read the file (No such file or directory); nothing applied" in out
