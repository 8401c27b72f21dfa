"""The one masking function for every output path: printed config, logs, error lines.

Two nets: patterns catch credentials by their shape (``scheme://user:PASSWORD@``, ``password=...`` in a
query string or DSN, ``whsec_`` secrets), and the secret values loaded from the settings are replaced
wherever they appear (a SASL password has no shape to recognise).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, SecretStr

__all__ = ["MASK", "SecretFilter", "mask_secrets", "remember_embedded", "remember_secrets", "secret_values"]

MASK = "***"
# Values this short would mask ordinary words all over the logs; the patterns still cover them in URLs.
MIN_REMEMBERED_LENGTH = 4

# userinfo: everything between "user:" and the LAST "@" of the token, so an unencoded "@" or "/" in the
# password is still covered (over-masking a malformed URL is the safe side).
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s'\"]*:)(?P<secret>[^\s'\"]*)@")
# No "@" but a "port" that is not a number: "postgresql://bob:hunter2/db" is a password whose host was
# forgotten far more often than a real port.
_BARE_PORT = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s'\"\[\]]*:)"
    r"(?P<secret>[^/?#@\s'\"]*[^0-9/?#@\s'\"][^/?#@\s'\"]*)(?=[/?#\s'\"]|$)"
)
# key=value credentials in a query string or a libpq DSN; passfile (a path) and sslkey are not secrets.
_KEY_VALUE = re.compile(
    r"(?P<head>(?<![A-Za-z0-9])(?:[\w.\-]*password|passwd|pwd|[\w.\-]*secret|[\w.\-]*token|api[_\-]?key)"
    r"\s*=\s*)(?P<secret>'[^']*'|[^&\s'\",;#]+)",
    re.IGNORECASE,
)
# The same keys quoted, as in a logged dict or JSON ('sasl_plain_password': 'x'); the quotes stay.
_QUOTED_KEY = re.compile(
    r"(?P<head>(?P<q>[\"'])[\w.\-]*(?:password|passwd|secret|token|api_?key)(?P=q)\s*:\s*)"
    r"(?P<secret>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')",
    re.IGNORECASE,
)
_WEBHOOK_SECRET = re.compile(r"whsec_[A-Za-z0-9+/=_\-]{8,}")

_remembered: set[str] = set()


def mask_secrets(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every credential replaced by ``***``; safe on any string, parseable or not."""
    text = _USERINFO.sub(lambda m: m["head"] + MASK + "@", text)
    text = _BARE_PORT.sub(lambda m: m["head"] + MASK, text)
    text = _KEY_VALUE.sub(lambda m: m["head"] + MASK, text)
    text = _QUOTED_KEY.sub(lambda m: m["head"] + m["secret"][0] + MASK + m["secret"][0], text)
    text = _WEBHOOK_SECRET.sub("whsec_" + MASK, text)
    for value in sorted({*_remembered, *_long_enough(extra)}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def secret_values(settings: BaseModel) -> set[str]:
    """Every secret in a settings tree: SecretStr fields, and the credentials embedded in URL-shaped ones."""
    found: set[str] = set()
    for value in _walk(settings):
        if isinstance(value, SecretStr):
            raw = value.get_secret_value()
            found |= _embedded(raw) if "://" in raw else {raw}
    return set(_long_enough(found))


def remember_secrets(settings: BaseModel) -> None:
    """Mask this tree's secrets in every later :func:`mask_secrets` call (logs and error lines included)."""
    _remembered.update(secret_values(settings))


def remember_embedded(texts: Iterable[str]) -> None:
    """Remember the credentials inside URL-shaped texts (command-line arguments): an error about one
    may quote a fragment without its URL ("invalid literal for int(): 'hunter2'")."""
    for text in texts:
        if "://" in text:
            _remembered.update(_long_enough(_embedded(text)))


def _embedded(raw: str) -> set[str]:
    found = {m["secret"] for m in _USERINFO.finditer(raw)} | {m["secret"] for m in _BARE_PORT.finditer(raw)}
    found |= {m["secret"].strip("'") for m in _KEY_VALUE.finditer(raw)}
    return found


def _long_enough(values: Iterable[str]) -> Iterable[str]:
    return (v for v in values if len(v) >= MIN_REMEMBERED_LENGTH)


def _walk(model: BaseModel) -> Iterable[Any]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from _walk(value)
        else:
            yield value


class SecretFilter(logging.Filter):
    """Masks each record's final text, traceback included, before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_secrets(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_secrets(record.stack_info)
        return True
