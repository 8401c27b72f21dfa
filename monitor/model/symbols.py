"""Emoji and other symbols written as words, for a tokenizer whose vocabulary has no entry for them."""

from __future__ import annotations

import re
import unicodedata

import emoji

__all__ = ["name_symbols"]

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
    text = emoji.replace_emoji(_SKIN_TONES.sub("", text), replace=_emoji_words)
    if not text.isascii():
        text = "".join(_symbol_words(c) for c in text)
    return " ".join(text.split())


def _emoji_words(chars: str, data: dict) -> str:
    return " " + data["en"].strip(":").replace("_", " ") + " "


def _symbol_words(c: str) -> str:
    if c.isascii() or unicodedata.category(c) != "So":
        return c
    name = unicodedata.name(c, "")
    return f" {name.lower()} " if name else c
