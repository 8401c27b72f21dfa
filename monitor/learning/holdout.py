"""The fixed, seeded slice of labeled texts that is never trained on and scores the new labels.

Membership hangs on the normalized text, not on the label, so a text whose label was corrected stays on
the same side of the line in every run.
"""

from __future__ import annotations

import hashlib

from monitor.text import dedup_key


def is_held_out(text: str, *, fraction: float, seed: int = 0) -> bool:
    if fraction <= 0:
        return False
    digest = hashlib.sha256(f"holdout:{seed}:{dedup_key(text)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction
