"""Signatures checked by the independent `standardwebhooks` package."""

import base64
import json
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from monitor.alerts.payloads import encode_body, event_body
from monitor.alerts.signing import generate_secret, mask_secret, secret_key, signed_headers


def test_generated_secret_has_prefix_and_32_random_bytes():
    a, b = generate_secret(), generate_secret()
    assert a.startswith("whsec_") and a != b
    assert len(secret_key(a)) == 32
    assert mask_secret(a).endswith(a[-4:]) and a[6:-4] not in mask_secret(a)


def test_signature_verifies_with_standardwebhooks():
    secret = generate_secret()
    body = encode_body(event_body("alert.opened", {"scope": "Earnings", "headline": "Ünïcode “quotes”"}))
    headers = signed_headers(secret, "msg_abc", int(time.time()), body)
    assert Webhook(secret).verify(body, headers) == json.loads(body)
    assert headers["webhook-signature"].startswith("v1,")


def test_tampered_body_or_other_secret_fails():
    secret = generate_secret()
    body = encode_body(event_body("test", {"n": 1}))
    headers = signed_headers(secret, "msg_abc", int(time.time()), body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"1", b"2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(body, headers)


def test_unpadded_secret_decodes_like_the_reference():
    raw = base64.b64encode(b"k" * 31).decode().rstrip("=")
    secret = "whsec_" + raw
    body = b'{"type":"test"}'
    headers = signed_headers(secret, "msg_1", int(time.time()), body)
    Webhook(secret).verify(body, headers)


def test_body_bytes_are_canonical_whatever_the_key_order():
    assert encode_body({"b": 1, "a": {"y": 2, "x": 3}}) == encode_body({"a": {"x": 3, "y": 2}, "b": 1})
