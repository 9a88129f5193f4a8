"""`reactions.add` for the fake Slack Web API (the ✅ confirmation style a channel may choose).

The fake remembers each reaction the bot added, by (channel, ts): `FakeSlackWebAPI.reactions`. It
answers as Slack documents it: `reactions:write` needed, `already_reacted` for the same reaction again,
`channel_not_found` for a channel it does not know or a private one the bot is not in, `not_in_channel`
for a public one it is not in (Slack's reference lists this code for reactions.add too), `is_archived`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.slack import Call, FakeSlackWebAPI


def reaction_methods(fake: FakeSlackWebAPI) -> dict[str, tuple[str, Callable[[Call], dict[str, Any]]]]:
    fake.reactions = {}

    def reactions_add(call: Call) -> dict[str, Any]:
        from tests.fakes.slack import _SlackError

        fake._need_scope("reactions:write")
        channel_id = str(fake._param(call, "channel", "channel_not_found"))
        ts = str(fake._param(call, "timestamp", "no_item_specified"))
        name = str(fake._param(call, "name", "invalid_name"))
        channel = fake.channels.get(channel_id)
        if channel is None or (channel.get("is_private") and not channel.get("is_member")):
            raise _SlackError("channel_not_found")
        if channel.get("is_archived"):
            raise _SlackError("is_archived")
        if not channel.get("is_member"):
            raise _SlackError("not_in_channel")
        added = fake.reactions.setdefault((channel_id, ts), [])
        if name in added:
            raise _SlackError("already_reacted")
        added.append(name)
        return {"ok": True}

    return {"reactions.add": ("bot", reactions_add)}
