"""Target parsing: domains, addresses, IDNs and bad input."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from diagnose.engine.target import TargetError, parse_target


@pytest.mark.parametrize("text, domain, unicode", [
    ("example.com", "example.com", "example.com"),
    ("  Example.COM. ", "example.com", "example.com"),
    ("user@example.com", "example.com", "example.com"),
    ("Bücher.example", "xn--bcher-kva.example", "bücher.example"),
    ("info@XN--BCHER-KVA.example", "xn--bcher-kva.example", "bücher.example"),
    ('"john doe"@example.org', "example.org", "example.org"),
])
def test_valid_targets_are_normalised(text, domain, unicode):
    t = parse_target(text)
    assert (t.domain, t.domain_unicode) == (domain, unicode)


def test_idn_is_shown_both_ways():
    assert parse_target("bücher.example").display == "bücher.example (xn--bcher-kva.example)"


def test_address_keeps_local_part():
    t = parse_target("Alice@Example.com")
    assert t.local_part == "Alice" and t.address == "Alice@example.com"
    assert parse_target('"a@b"@example.com').local_part == '"a@b"'  # quoted: an @ is allowed there


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("   ", "empty"),
    ("not a domain!!", "not a valid domain"),
    ("localhost", "not a full domain"),
    ("a" * 300 + ".com", "longer"),
    ("ex..com", "empty label"),
    ("-bad.com", "starts/ends"),
    ("1.2.3.4", "IP address"),
    ("user@[192.0.2.1]", "address literal"),
    ("@example.com", "nothing before"),
    ("a..b@example.com", "local part"),
    ("alice@@example.com", "2 @ signs; a mail address has one"),
    ("a@b@example.com", "2 @ signs; a mail address has one"),
    ("xn--zz.com", "punycode"),
    ("exa\x1bmple.com", "control"),
])
def test_bad_targets_give_a_reason(text, words):
    with pytest.raises(TargetError) as exc:
        parse_target(text)
    assert words in str(exc.value)
    assert len(str(exc.value)) < 200, "the message must stay one readable line"


@given(st.text(max_size=400))
def test_any_text_parses_or_raises_target_error(text):
    try:
        t = parse_target(text)
    except TargetError:
        return
    assert t.domain.isascii() and "." in t.domain and len(t.domain) <= 253
