"""Emoji and other symbols written as words, for a tokenizer whose vocabulary has no entry for them."""

from __future__ import annotations

import re
import unicodedata

import emoji

__all__ = ["name_symbols"]

# Every non-ASCII character that occurs in some emoji (a keycap such as "#️⃣" is ASCII plus two of these). A text
# without one holds no emoji, and most non-ASCII texts only have typographic quotes or "…": they skip the emoji
# library's character-by-character scan (about 100 µs a text).
_EMOJI_CHARACTERS = frozenset(c for sequence in emoji.EMOJI_DATA for c in sequence if not c.isascii())
# Skin tones say nothing about the market and would lengthen every name they modify ("thumbs up medium skin tone").
_SKIN_TONES = re.compile("[\U0001F3FB-\U0001F3FF]")


def name_symbols(text: str) -> str:
    """``text`` with each emoji written as its short name and each other symbol as its Unicode name, in words.

    MiniLM's WordPiece vocabulary has no emoji: "🚀" and "📉" become [UNK], and so does every word glued to
    one ("$TSLA🚀" is a single [UNK]), which hides what retail investors' posts say most plainly. Here they read
    " rocket " and " chart decreasing ", spaced off the words beside them. Other symbols (Unicode category So:
    arrows, triangles such as "▼") get their Unicode name in lower case. Whitespace is collapsed wherever a
    symbol was named; ASCII text is returned as it is.
    """
    if text.isascii():
        return text
    others = {c for c in text if not c.isascii()}
    if not others & _EMOJI_CHARACTERS:
        if all(unicodedata.category(c) != "So" for c in others):
            return text
    else:
        text = emoji.replace_emoji(_SKIN_TONES.sub("", text), replace=_emoji_words)
    return " ".join("".join(_symbol_words(c) for c in text).split())


def _emoji_words(chars: str, data: dict) -> str:
    return " " + data["en"].strip(":").replace("_", " ") + " "


def _symbol_words(c: str) -> str:
    if c.isascii() or unicodedata.category(c) != "So":
        return c
    name = unicodedata.name(c, "")
    return f" {name.lower()} " if name else c
