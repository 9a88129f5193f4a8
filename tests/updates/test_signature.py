"""Productlane-Signature: the documented fixture verifies; any change to body, time or secret fails."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.updates.signature import (
    SignatureProblem,
    parse_signature_header,
    sign,
    signature_header,
    verify_signature,
)

FIXTURE = json.loads(
    (
        Path(__file__).parent.parent / "fixtures" / "productlane" / "webhook_thread_status_changed.json"
    ).read_text()
)
SECRET = FIXTURE["secret"]
BODY = FIXTURE["raw_body"].encode()
HEADER = FIXTURE["headers"]["Productlane-Signature"]
SIGNED_AT = 1795861425  # t= in the fixture's header


def test_the_documented_delivery_verifies_at_its_time() -> None:
    assert verify_signature(BODY, HEADER, [SECRET], now=SIGNED_AT) is None
    assert verify_signature(BODY, HEADER, [SECRET], now=SIGNED_AT + 300) is None
    assert verify_signature(BODY, HEADER, [SECRET], now=SIGNED_AT - 300) is None


def test_more_than_five_minutes_either_way_is_stale() -> None:
    assert verify_signature(BODY, HEADER, [SECRET], now=SIGNED_AT + 301) is SignatureProblem.STALE
    assert verify_signature(BODY, HEADER, [SECRET], now=SIGNED_AT - 301) is SignatureProblem.STALE


def test_one_changed_byte_of_the_body_fails() -> None:
    tampered = BODY.replace(b'"status":"done"', b'"status":"open"')
    assert tampered != BODY
    assert verify_signature(tampered, HEADER, [SECRET], now=SIGNED_AT) is SignatureProblem.MISMATCH


def test_a_re_serialised_body_fails_the_raw_bytes_are_signed() -> None:
    reserialised = json.dumps(json.loads(BODY)).encode()  # ", " and ": " instead of "," and ":"
    assert verify_signature(reserialised, HEADER, [SECRET], now=SIGNED_AT) is SignatureProblem.MISMATCH


def test_another_timestamp_with_the_same_signature_fails() -> None:
    moved = HEADER.replace(f"t={SIGNED_AT}", f"t={SIGNED_AT + 1}")
    assert verify_signature(BODY, moved, [SECRET], now=SIGNED_AT) is SignatureProblem.MISMATCH


def test_the_wrong_secret_fails() -> None:
    assert verify_signature(BODY, HEADER, ["whsec_other"], now=SIGNED_AT) is SignatureProblem.MISMATCH


def test_missing_and_malformed_headers() -> None:
    assert verify_signature(BODY, None, [SECRET], now=SIGNED_AT) is SignatureProblem.MISSING
    assert verify_signature(BODY, "  ", [SECRET], now=SIGNED_AT) is SignatureProblem.MISSING
    for header in (
        "garbage",
        f"t={SIGNED_AT}",  # no v1
        "v1=" + "a" * 64,  # no t
        f"t=soon,v1={'a' * 64}",
        f"t={SIGNED_AT},v1=xyz",  # not 64 hex digits
        f"t={SIGNED_AT},v0={sign(SECRET, SIGNED_AT, BODY)}",  # another scheme only
        "t=1," + "v1=" + "a" * 64 + "," * 5000,  # absurdly long
    ):
        assert verify_signature(BODY, header, [SECRET], now=SIGNED_AT) is SignatureProblem.MALFORMED, header


def test_no_secret_configured_refuses_everything() -> None:
    assert verify_signature(BODY, HEADER, [], now=SIGNED_AT) is SignatureProblem.NO_SECRET


def test_any_of_several_v1_entries_may_match_during_a_rotation() -> None:
    header = signature_header(["whsec_old", SECRET], SIGNED_AT, BODY)
    assert header.count("v1=") == 2
    assert verify_signature(BODY, header, [SECRET], now=SIGNED_AT) is None
    assert verify_signature(BODY, header, ["whsec_old"], now=SIGNED_AT) is None
    assert verify_signature(BODY, header, ["whsec_new"], now=SIGNED_AT) is SignatureProblem.MISMATCH


def test_we_may_hold_two_secrets_while_rotating() -> None:
    assert verify_signature(BODY, HEADER, ["whsec_next", SECRET], now=SIGNED_AT) is None


def test_spaces_and_upper_case_hex_are_tolerated() -> None:
    digest = sign(SECRET, SIGNED_AT, BODY).upper()
    assert verify_signature(BODY, f" t={SIGNED_AT} , v1={digest} ", [SECRET], now=SIGNED_AT) is None


def test_our_signing_matches_the_documented_one() -> None:
    assert signature_header([SECRET], SIGNED_AT, BODY) == HEADER


def test_parse_keeps_the_first_t_and_every_v1() -> None:
    parsed = parse_signature_header(f"t=5,t=6,v1={'a' * 64},x=1,v1={'b' * 64}")
    assert parsed is not None
    assert parsed.timestamp == 5
    assert parsed.signatures == ("a" * 64, "b" * 64)


@given(body=st.binary(max_size=2048), secret=st.text(min_size=1, max_size=40), t=st.integers(0, 10**11))
def test_what_we_sign_verifies(body: bytes, secret: str, t: int) -> None:
    assert verify_signature(body, signature_header([secret], t, body), [secret], now=t) is None


@given(
    body=st.binary(min_size=1, max_size=512),
    flip=st.integers(min_value=0),
    bit=st.integers(0, 7),
)
def test_any_flipped_bit_of_the_body_fails(body: bytes, flip: int, bit: int) -> None:
    header = signature_header([SECRET], SIGNED_AT, body)
    index = flip % len(body)
    tampered = body[:index] + bytes([body[index] ^ (1 << bit)]) + body[index + 1 :]
    assert verify_signature(tampered, header, [SECRET], now=SIGNED_AT) is SignatureProblem.MISMATCH


@given(extra=st.binary(min_size=1, max_size=64))
def test_appending_to_the_body_fails(extra: bytes) -> None:
    assert verify_signature(BODY + extra, HEADER, [SECRET], now=SIGNED_AT) is SignatureProblem.MISMATCH
