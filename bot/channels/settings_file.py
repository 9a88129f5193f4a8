"""The file `productlane-slack channels import` applies and `channels export` prints (JSON or YAML)::

    {"channels": [{"channel": "C0123ABCD", "company_id": "cmp_…", "pain_level": "HIGH",
                   "tags": ["tag_…"], "capture": "automatic", "confirm": "reaction",
                   "followups": true, "replies": true}]}

Every key but `channel` is optional. An entry is merged into the channel's settings: the keys it has
are set, the others keep what the channel had; `null` (or `[]` for tags) puts a key back to the
default. Channels the file does not name are left alone. An export writes every key, nulls included,
so importing it elsewhere makes those channels exactly as exported.

Pure: text in, entries or problems out. A file with any problem is refused as a whole, one line per
problem naming the entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.channels.model import Capture, ChannelSettings, Confirm
from bot.productlane.models import PainLevel

# The file's keys → the settings' fields (the file says "tags", as its format in docs/channels.md does).
FIELDS = {
    "company_id": "company_id",
    "pain_level": "pain_level",
    "tags": "tag_ids",
    "capture": "capture",
    "confirm": "confirm",
    "followups": "followups",
    "replies": "replies",
}
KEYS = ("channel", *FIELDS)
CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{6,20}")
ID_MAX = 255
TAGS_MAX = 50


@dataclass(frozen=True)
class Entry:
    channel: str
    values: dict[str, Any]  # settings field → value, only the keys the entry has


def _choices(kind: type[Capture] | type[Confirm] | type[PainLevel]) -> str:
    return ", ".join(member.value for member in kind)


def _id(value: Any, key: str) -> tuple[Any, str | None]:
    if value is None:
        return None, None
    if not isinstance(value, str) or not value.strip() or len(value) > ID_MAX:
        return None, f'"{key}" must be a Productlane id (a string) or null'
    return value.strip(), None


def _check_value(key: str, value: Any) -> tuple[Any, str | None]:
    """The value to save for a file key, or the problem with it."""
    if key == "company_id":
        return _id(value, key)
    if key == "pain_level":
        if value is None:
            return None, None
        level = str(value).strip().upper() if isinstance(value, str) else None
        if level not in PainLevel.__members__:
            return None, f"pain level {json.dumps(value)} is not one Productlane has ({_choices(PainLevel)})"
        return level, None
    if key == "tags":
        if value is None:
            return [], None
        if not isinstance(value, list) or len(value) > TAGS_MAX:
            return None, f'"tags" must be a list of at most {TAGS_MAX} Productlane tag ids'
        tags = []
        for tag in value:
            checked, problem = _id(tag, "tags")
            if problem or checked is None:
                return None, '"tags" must hold Productlane tag ids (strings)'
            tags.append(checked)
        return list(dict.fromkeys(tags)), None
    if key in ("capture", "confirm"):
        kind: type[Capture] | type[Confirm] = Capture if key == "capture" else Confirm
        if value is None:
            return None, None
        if not isinstance(value, str) or value.strip().lower() not in {member.value for member in kind}:
            return None, f"{key} {json.dumps(value)} is not one of {_choices(kind)}"
        return value.strip().lower(), None
    # followups, replies
    if not isinstance(value, bool):
        return None, f'"{key}" must be true or false'
    return value, None


def _label(index: int, channel: Any) -> str:
    return f"entry {index} ({channel})" if isinstance(channel, str) and channel else f"entry {index}"


def check_document(document: Any) -> tuple[list[Entry], list[str]]:
    """The entries of a parsed file, or every problem with it (then no entry)."""
    if not isinstance(document, Mapping) or not isinstance(document.get("channels"), list):
        return [], [
            'the file must be an object with a "channels" list: {"channels": [{"channel": "C0123ABCD"}]}'
        ]
    problems = [
        f'unknown top-level key "{key}" (the file has only "channels")'
        for key in document
        if key != "channels"
    ]
    entries: list[Entry] = []
    first_seen: dict[str, int] = {}
    for index, raw in enumerate(document["channels"], start=1):
        if not isinstance(raw, Mapping):
            problems.append(f'entry {index}: must be an object with a "channel" key')
            continue
        channel = raw.get("channel")
        label = _label(index, channel)
        if "channel" not in raw:
            problems.append(f'{label}: "channel" is missing')
        elif not isinstance(channel, str) or not CHANNEL_ID.fullmatch(channel):
            shown = json.dumps(channel)
            why = (
                "a direct message, not a channel"
                if isinstance(channel, str) and channel.startswith("D")
                else ("not a Slack channel id (like C0123ABCD)")
            )
            problems.append(f"{label}: {shown} is {why}")
        elif channel in first_seen:
            problems.append(f"{label}: {channel} is also entry {first_seen[channel]}; name each channel once")
        else:
            first_seen[channel] = index
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key == "channel":
                continue
            if key not in FIELDS:
                problems.append(f'{label}: unknown key "{key}" (the keys are {", ".join(KEYS)})')
                continue
            checked, problem = _check_value(str(key), value)
            if problem:
                problems.append(f"{label}: {problem}")
            else:
                values[FIELDS[str(key)]] = checked
        if isinstance(channel, str):
            entries.append(Entry(channel, values))
    return ([], problems) if problems else (entries, [])


def parse_settings_file(text: str, *, yaml: bool) -> tuple[list[Entry], list[str]]:
    """A file's text (JSON, or YAML when ``yaml``) into entries, or its problems."""
    try:
        if yaml:
            import yaml as pyyaml  # only `channels import` needs it

            document = pyyaml.safe_load(text)
        else:
            document = json.loads(text)
    except ValueError as error:  # json.JSONDecodeError
        return [], [f"the file is not valid JSON: {error}"]
    except Exception as error:  # yaml.YAMLError
        detail = " ".join(str(error).split())
        return [], [f"the file is not valid YAML: {detail}"]
    return check_document(document)


def is_yaml(path: str) -> bool:
    """YAML by its name (.yaml, .yml); JSON otherwise."""
    return path.lower().endswith((".yaml", ".yml"))


def exported(channels: Sequence[ChannelSettings]) -> dict[str, Any]:
    """The file for these channels' settings: every key written, nulls included."""
    return {"channels": [_entry(channel) for channel in channels]}


def _entry(channel: ChannelSettings) -> dict[str, Any]:
    settings = channel.model_dump(mode="json")
    return {"channel": channel.channel} | {key: settings[field] for key, field in FIELDS.items()}
