"""The import file of `productlane-slack channels import`: what a good file gives, and every problem of a
bad one, one line each, naming the entry."""

from __future__ import annotations

import json

from bot.channels.model import Capture, ChannelSettings, Confirm
from bot.channels.settings_file import Entry, check_document, exported, parse_settings_file
from bot.productlane.models import PainLevel

GOOD = {
    "channels": [
        {
            "channel": "C0123ABCD",
            "company_id": "cmp_1",
            "pain_level": "HIGH",
            "tags": ["tag_1", "tag_2", "tag_1"],
            "capture": "automatic",
            "confirm": "reaction",
        },
        {"channel": "G0PRIVATE1", "followups": False, "replies": False, "pain_level": "low"},
        {"channel": "C0SHARED01", "company_id": None, "tags": None},
    ]
}


def test_a_good_file_gives_each_entrys_keys_only() -> None:
    entries, problems = parse_settings_file(json.dumps(GOOD), yaml=False)
    assert problems == []
    assert entries == [
        Entry(
            "C0123ABCD",
            {
                "company_id": "cmp_1",
                "pain_level": "HIGH",
                "tag_ids": ["tag_1", "tag_2"],
                "capture": "automatic",
                "confirm": "reaction",
            },
        ),
        Entry("G0PRIVATE1", {"followups": False, "replies": False, "pain_level": "LOW"}),
        Entry("C0SHARED01", {"company_id": None, "tag_ids": []}),
    ]


def test_yaml_says_the_same() -> None:
    text = """
channels:
  - channel: C0123ABCD
    capture: automatic
    confirm: private
    tags: [tag_1]
    followups: false
"""
    entries, problems = parse_settings_file(text, yaml=True)
    assert problems == []
    assert entries == [
        Entry(
            "C0123ABCD",
            {"capture": "automatic", "confirm": "private", "tag_ids": ["tag_1"], "followups": False},
        )
    ]


def test_a_bad_file_is_refused_whole_with_one_line_per_problem() -> None:
    bad = {
        "channels": [
            {"channel": "C0123ABCD", "capture": "automatic"},  # fine, but the file is refused whole
            {"channel": "C0123ABCD", "confirm": "thread"},
            {"channel": "#general", "capture": "always", "captur": "automatic"},
            {"channel": "C0BBBBBBB2", "pain_level": "CRITICAL", "confirm": "email", "followups": "yes"},
            {"capture": "shortcut"},
            {"channel": "D0DIRECT01"},
            "C0CCCCCCC3",
            {"channel": "C0DDDDDDD4", "tags": "tag_1", "company_id": 42},
        ],
        "version": 1,
    }
    entries, problems = check_document(bad)
    assert entries == []
    assert problems == [
        'unknown top-level key "version" (the file has only "channels")',
        "entry 2 (C0123ABCD): C0123ABCD is also entry 1; name each channel once",
        'entry 3 (#general): "#general" is not a Slack channel id (like C0123ABCD)',
        'entry 3 (#general): capture "always" is not one of shortcut, reaction, automatic',
        'entry 3 (#general): unknown key "captur" (the keys are channel, company_id, pain_level, tags, '
        "capture, confirm, followups, replies)",
        'entry 4 (C0BBBBBBB2): pain level "CRITICAL" is not one Productlane has (UNKNOWN, LOW, MEDIUM, HIGH)',
        'entry 4 (C0BBBBBBB2): confirm "email" is not one of thread, private, reaction',
        'entry 4 (C0BBBBBBB2): "followups" must be true or false',
        'entry 5: "channel" is missing',
        'entry 6 (D0DIRECT01): "D0DIRECT01" is a direct message, not a channel',
        'entry 7: must be an object with a "channel" key',
        'entry 8 (C0DDDDDDD4): "tags" must be a list of at most 50 Productlane tag ids',
        'entry 8 (C0DDDDDDD4): "company_id" must be a Productlane id (a string) or null',
    ]


def test_a_file_that_is_not_one_says_so() -> None:
    assert parse_settings_file("{not json", yaml=False)[1][0].startswith("the file is not valid JSON: ")
    assert parse_settings_file("channels: [\n  - : :", yaml=True)[1][0].startswith(
        "the file is not valid YAML: "
    )
    assert parse_settings_file("[]", yaml=False)[1] == [
        'the file must be an object with a "channels" list: {"channels": [{"channel": "C0123ABCD"}]}'
    ]


def test_an_export_writes_every_key_and_reads_back_as_the_same_settings() -> None:
    channels = [
        ChannelSettings(
            channel="C0123ABCD",
            company_id="cmp_1",
            pain_level=PainLevel.HIGH,
            tag_ids=("tag_1",),
            capture=Capture.AUTOMATIC,
            confirm=Confirm.REACTION,
            replies=False,
        ),
        ChannelSettings(channel="C0BBBBBBB2", followups=False),
    ]
    document = exported(channels)
    assert document["channels"][1] == {
        "channel": "C0BBBBBBB2",
        "company_id": None,
        "pain_level": None,
        "tags": [],
        "capture": None,
        "confirm": None,
        "followups": False,
        "replies": True,
    }
    entries, problems = parse_settings_file(json.dumps(document), yaml=False)
    assert problems == []
    # Imported over any settings at all, the export makes them exactly what was exported.
    busy = ChannelSettings(channel="C0BBBBBBB2", company_id="cmp_9", capture=Capture.SHORTCUT, tag_ids=("x",))
    assert [
        busy.merged(entries[1].values),
        ChannelSettings(channel="C0123ABCD").merged(entries[0].values),
    ] == [
        channels[1],
        channels[0],
    ]
