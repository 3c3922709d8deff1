"""The lab OCSP responder's cache of signed answers (tests/lab/webserver.py): the same request gets the
same answer only while the CA's index is unchanged and the answer is young; another request never does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.lab.webserver import SignedAnswers


@pytest.fixture
def args(tmp_path: Path) -> list[str]:
    """A responder's arguments, its index holding one valid certificate."""
    index = tmp_path / "index.txt"
    index.write_text("V\t300101000000Z\t\t01\tunknown\t/CN=a\n")
    return ["-index", str(index), "-CA", "ca.pem"]


def _kept(kept: SignedAnswers, args: list[str], *pairs: tuple[bytes, bytes]) -> SignedAnswers:
    for request, answer in pairs:
        kept.put(args, request, answer, kept.index_stamp(args))
    return kept


def test_kept_per_request_until_the_index_changes(args: list[str]) -> None:
    kept = _kept(SignedAnswers(), args, (b"request-1", b"answer-1"))
    assert kept.get(args, b"request-1") == b"answer-1"
    assert kept.get(args, b"request-2") is None  # another serial, or a nonce: never another's answer
    assert kept.get([*args[:3], "root.pem"], b"request-1") is None  # another responder
    index = Path(args[1])
    stat = index.stat()
    os.utime(index, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a revocation rewrites the index
    assert kept.get(args, b"request-1") is None


def test_an_old_answer_is_signed_again(args: list[str]) -> None:
    kept = _kept(SignedAnswers(max_age_s=0.0), args, (b"r", b"a"))
    assert kept.get(args, b"r") is None


def test_bounded_and_a_missing_index_is_never_trusted(args: list[str], tmp_path: Path) -> None:
    kept = _kept(SignedAnswers(size=2), args, (b"r0", b"a0"), (b"r1", b"a1"), (b"r2", b"a2"))
    assert kept.get(args, b"r0") is None and kept.get(args, b"r2") == b"a2"
    gone = ["-index", str(tmp_path / "missing")]
    assert _kept(kept, gone, (b"r", b"a")).get(gone, b"r") is None
