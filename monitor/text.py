"""How texts are compared: links stripped and whitespace collapsed, then case folded for a duplicate key.

One definition for every place that asks "is this the same text" (near-duplicate checks between training
sets, label de-duplication, the held-out slice), so the places cannot drift apart.
"""

from __future__ import annotations

import re

__all__ = ["LINK_PATTERN", "dedup_key", "strip_links"]

LINK_PATTERN = re.compile(r"https?://\S+|www\.\S+")


def strip_links(text: str) -> str:
    """``text`` with links removed and runs of whitespace collapsed to one space; case is kept."""
    return " ".join(LINK_PATTERN.sub(" ", text).split())


def dedup_key(text: str) -> str:
    """The key two texts share when they differ only in links, whitespace or case."""
    return strip_links(text).casefold()
