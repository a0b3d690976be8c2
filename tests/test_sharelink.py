"""Signed share links: round trip, tampering, other secret, expiry, malformed, scope checks."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import sharelink
from metrics.sharelink import (
    BadSignature,
    ExpiredLink,
    LinkError,
    MalformedLink,
    NoSecret,
    ScopeMismatch,
)

SECRET = "test-secret-0123456789abcdef"
OTHER = "another-secret-0123456789abcdef"
NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def make(**kw):
    args = dict(force="Avon and Somerset", start="2025-01", end="2025-03",
                pages=["flight_deck", "trends"], created_by="lead@example.police.uk", now=NOW)
    args.update(kw)
    return sharelink.create(SECRET, **args)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _payload(token: str) -> dict:
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_round_trip_gives_the_scope_back():
    token, scope = make()
    got = sharelink.verify(token, SECRET, now=NOW + timedelta(days=1))
    assert got == scope
    assert got.force == "Avon and Somerset"
    assert (got.start, got.end) == ("2025-01", "2025-03")
    assert got.pages == ("flight_deck", "trends")
    assert got.created_by == "lead@example.police.uk"
    assert got.window_label == "2025-01..2025-03"
    assert got.expires == NOW + timedelta(days=14)
    assert len(got.link_id) >= 12


def test_default_expiry_is_14_days_and_expiry_is_enforced():
    token, scope = make()
    assert scope.expires - scope.created == timedelta(days=14)
    sharelink.verify(token, SECRET, now=scope.expires - timedelta(seconds=1))
    with pytest.raises(ExpiredLink) as info:
        sharelink.verify(token, SECRET, now=scope.expires)
    assert info.value.reason == "expired"


def test_token_signed_with_another_secret_is_refused():
    token, _ = make()
    with pytest.raises(BadSignature) as info:
        sharelink.verify(token, OTHER, now=NOW)
    assert info.value.reason == "bad_signature"


@pytest.mark.parametrize("field,value", [
    ("f", "Kent"), ("s", "2024-01"), ("e", "2025-12"), ("x", 4102444800),
    ("p", ["flight_deck", "trends", "victim_voice"]),
])
def test_edited_payload_is_refused_as_bad_signature(field, value):
    token, _ = make()
    payload = _payload(token)
    payload[field] = value
    forged = _b64(json.dumps(payload, separators=(",", ":")).encode()) + "." + \
        token.split(".")[1]
    with pytest.raises(BadSignature):
        sharelink.verify(forged, SECRET, now=NOW)


def test_payload_signed_by_an_attacker_with_own_secret_is_refused():
    forged, _ = sharelink.create(OTHER, force="Avon and Somerset", start="2020-01",
                                 end="2025-12", pages=["flight_deck"], created_by="x", now=NOW)
    with pytest.raises(BadSignature):
        sharelink.verify(forged, SECRET, now=NOW)


@pytest.mark.parametrize("token", [
    "", "abc", "a.b.c", "no-dot-at-all", "!!!.###", "eyJ2IjoxfQ", ".", "x" * 5000,
    "eyJ2IjoxfQ.", ".c2ln",
])
def test_malformed_tokens_are_refused(token):
    with pytest.raises(MalformedLink) as info:
        sharelink.verify(token, SECRET, now=NOW)
    assert info.value.reason == "malformed"


def test_validly_signed_but_nonsense_payload_is_malformed():
    payload_b64 = _b64(b'{"v":1,"f":"Avon"}')
    token = payload_b64 + "." + _b64(sharelink._sign(payload_b64, SECRET))
    with pytest.raises(MalformedLink):
        sharelink.verify(token, SECRET, now=NOW)


def test_unshareable_page_inside_a_signed_payload_is_malformed():
    payload = _payload(make()[0])
    payload["p"] = ["data_quality"]
    payload_b64 = _b64(json.dumps(payload).encode())
    token = payload_b64 + "." + _b64(sharelink._sign(payload_b64, SECRET))
    with pytest.raises(MalformedLink):
        sharelink.verify(token, SECRET, now=NOW)


def test_truncated_signature_is_refused():
    token, _ = make()
    with pytest.raises(LinkError) as info:
        sharelink.verify(token[:-3], SECRET, now=NOW)
    assert info.value.reason in {"bad_signature", "malformed"}


def test_missing_or_short_secret_cannot_create_or_verify():
    token, _ = make()
    for secret in ("", "short"):
        with pytest.raises(NoSecret):
            sharelink.verify(token, secret, now=NOW)
        with pytest.raises(NoSecret):
            sharelink.create(secret, force="A", start="2025-01", end="2025-01",
                             pages=["trends"], created_by="x")


@pytest.mark.parametrize("kw", [
    dict(pages=["data_quality"]), dict(pages=["compare_forces"]), dict(pages=[]),
    dict(start="2025-13"), dict(start="2025-04", end="2025-03"), dict(force=""),
    dict(expires_in=timedelta(days=93)), dict(expires_in=timedelta(0)),
])
def test_bad_scopes_are_not_signed(kw):
    with pytest.raises(ValueError):
        make(**kw)


def test_check_request_accepts_the_scope_and_missing_filters():
    _, scope = make()
    sharelink.check_request(scope, page="trends")
    sharelink.check_request(scope, page="flight_deck", force="Avon and Somerset",
                            start="2025-01", end="2025-03", window="custom")


@pytest.mark.parametrize("kw,reason", [
    (dict(page="victim_voice"), "page_not_in_scope"),
    (dict(page="data_quality"), "page_not_in_scope"),
    (dict(page="trends", force="Kent"), "force_not_in_scope"),
    (dict(page="trends", start="2024-01"), "window_not_in_scope"),
    (dict(page="trends", end="2025-04"), "window_not_in_scope"),
    (dict(page="trends", window="last_12_months"), "window_not_in_scope"),
])
def test_check_request_refuses_anything_outside_the_scope(kw, reason):
    _, scope = make()
    with pytest.raises(ScopeMismatch) as info:
        sharelink.check_request(scope, **kw)
    assert info.value.reason == reason


def test_peek_link_id_reads_without_trusting():
    token, scope = make()
    assert sharelink.peek_link_id(token) == scope.link_id
    assert sharelink.peek_link_id("garbage") is None


def test_secret_from_env(monkeypatch):
    monkeypatch.setenv("FLIGHTDECK_SECRET", SECRET)
    assert sharelink.secret_from_env() == SECRET
    monkeypatch.setenv("FLIGHTDECK_SECRET", "short")
    assert sharelink.secret_from_env() is None
    monkeypatch.delenv("FLIGHTDECK_SECRET")
    assert sharelink.secret_from_env() is None


@settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0, max_value=10_000), char=st.sampled_from("AQgw-_x0"))
def test_any_single_character_change_is_refused(position, char):
    token, _ = make(link_id="fixed-link-id")
    i = position % len(token)
    if token[i] == char:
        return
    changed = token[:i] + char + token[i + 1:]
    # Non-canonical base64 (e.g. changed unused low bits of the last character) is refused too.
    with pytest.raises(LinkError):
        sharelink.verify(changed, SECRET, now=NOW)


@settings(max_examples=100, deadline=None)
@given(force=st.text(min_size=1, max_size=60).filter(lambda s: s.strip()),
       creator=st.text(max_size=60),
       months=st.tuples(st.integers(2000, 2099), st.integers(1, 12), st.integers(0, 30)),
       pages=st.lists(st.sampled_from(sharelink.PANEL_PAGES), min_size=1, unique=True),
       days=st.integers(1, 92))
def test_any_scope_round_trips(force, creator, months, pages, days):
    year, month, length = months
    start = f"{year}-{month:02d}"
    last = (year * 12 + month - 1) + length
    end = f"{min(last // 12, 9999)}-{last % 12 + 1:02d}"
    token, scope = sharelink.create(SECRET, force=force, start=start, end=end, pages=pages,
                                    created_by=creator, expires_in=timedelta(days=days),
                                    now=NOW)
    assert sharelink.verify(token, SECRET, now=NOW) == scope
    assert (scope.force, scope.created_by, scope.pages) == (force, creator, tuple(pages))
    assert all(c.isalnum() or c in "-_." for c in token)  # URL-safe as it is
