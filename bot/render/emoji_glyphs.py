"""Emoji as Slack names them (`unicode` hex, `:shortcode:`, skin tones) → the glyph itself."""

from __future__ import annotations

import re
from functools import lru_cache

_HEX_PART = re.compile(r"[0-9a-fA-F]{1,6}")
_SKIN_TONE_BASE = 0x1F3FB  # Slack's skin-tone-2 … skin-tone-6 are U+1F3FB … U+1F3FF
_VARIATION_SELECTOR = "\ufe0f"


def _printable(code_point: int) -> bool:
    # No controls, surrogates or bidi controls may come in through an emoji either.
    return (
        0x20 <= code_point <= 0x10FFFF
        and not 0x7F <= code_point <= 0x9F
        and not 0xD800 <= code_point <= 0xDFFF
        and not 0x202A <= code_point <= 0x202E
        and not 0x2066 <= code_point <= 0x2069
    )


def glyph_from_hex(code: str) -> str | None:
    """Slack's `unicode` ("1f44d-1f3fb": code points joined by `-`) → "👍🏻"; None if malformed."""
    parts = code.split("-")
    if len(parts) > 16:
        return None
    glyph = []
    for part in parts:
        if not _HEX_PART.fullmatch(part):
            return None
        code_point = int(part, 16)
        if not _printable(code_point):
            return None
        glyph.append(chr(code_point))
    return "".join(glyph)


@lru_cache(maxsize=1)
def _glyphs_by_name() -> dict[str, str]:
    # The same answers as emoji.emojize(language="alias") (its aliases win over English names, only
    # fully-qualified glyphs), built once: emojize scans every emoji for each unknown name, which
    # costs ~0.4 ms, and a message full of custom emoji would cost seconds.
    # The emoji package's table is large: imported on first use, not at start-up.
    import emoji

    fully_qualified = emoji.STATUS["fully_qualified"]
    english: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for glyph, data in emoji.EMOJI_DATA.items():
        if data["status"] > fully_qualified:
            continue
        english.setdefault(data["en"], glyph)
        for alias in data.get("alias", ()):
            aliases.setdefault(alias, glyph)
    return {**english, **aliases}


def glyph_from_shortcode(name: str, skin_tone: int = 0) -> str | None:
    """`pray` → "🙏", with Slack's skin tone 2–6 applied; None for custom or unknown emoji."""
    glyphs = _glyphs_by_name()
    glyph = glyphs.get(f":{name}:") or glyphs.get(f":{name.replace('-', '_')}:")
    if glyph is None:
        return None
    if 2 <= skin_tone <= 6:
        glyph = glyph.removesuffix(_VARIATION_SELECTOR) + chr(_SKIN_TONE_BASE + skin_tone - 2)
    return glyph


_SHORTCODE = re.compile(r":([a-z0-9_+'\-]{1,64}):(?::skin-tone-([2-6]):)?")


def emojize_shortcodes(raw: str) -> str:
    """Every known `:shortcode:` in `raw` → its glyph; custom and unknown ones stay as typed."""
    if ":" not in raw:
        return raw
    return _SHORTCODE.sub(
        lambda match: glyph_from_shortcode(match.group(1), int(match.group(2) or 0)) or match.group(0),
        raw,
    )
