"""DANE TLSA matching on minted certificates: usages 2/3, selectors 0/1, matching types 0/1/2."""

import pytest

from diagnose.knowledge.dane import Tlsa, association, match_tlsa, tlsa_for
from tests.unit.certmint import Pki

PKI = Pki("dane")
LEAF = PKI.leaf("mx.example.test")
CHAIN = [LEAF, PKI.inter]


@pytest.mark.parametrize("selector", [0, 1])
@pytest.mark.parametrize("mtype", [0, 1, 2])
def test_dane_ee_matches_every_selector_and_type(selector, mtype):
    result = match_tlsa([tlsa_for(LEAF, 3, selector, mtype)], CHAIN, name_ok=False)  # EE ignores the name
    assert result.ok and result.matched.usage == 3


@pytest.mark.parametrize("selector", [0, 1])
@pytest.mark.parametrize("mtype", [0, 1, 2])
def test_dane_ta_matches_the_sent_intermediate(selector, mtype):
    result = match_tlsa([tlsa_for(PKI.inter, 2, selector, mtype)], CHAIN, name_ok=True)
    assert result.ok, result.detail


def test_dane_ta_needs_the_name_and_the_signature():
    assert not match_tlsa([tlsa_for(PKI.inter, 2)], CHAIN, name_ok=False).ok
    other = Pki("other")
    # the record matches a CA the server sends, but the leaf was not issued by it
    assert not match_tlsa([tlsa_for(other.inter, 2)], [LEAF, other.inter], name_ok=True).ok


def test_mismatch_and_one_good_record_among_stale_ones():
    stale = Tlsa(3, 1, 1, bytes(32))
    assert not match_tlsa([stale], CHAIN, name_ok=True).ok
    assert match_tlsa([stale, tlsa_for(LEAF)], CHAIN, name_ok=True).ok  # rollover: old + new key


def test_pkix_usages_are_unusable_for_smtp():
    result = match_tlsa([tlsa_for(LEAF, 1), tlsa_for(PKI.inter, 0)], CHAIN, name_ok=True)
    assert not result.ok and result.usable == 0 and len(result.unusable) == 2


def test_association_lengths():
    assert len(association(LEAF, 1, 1)) == 32 and len(association(LEAF, 1, 2)) == 64


def test_no_chain():
    assert not match_tlsa([tlsa_for(LEAF)], [], name_ok=True).ok
