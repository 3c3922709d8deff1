"""The lab OCSP responder's cache of signed answers (tests/lab/webserver.py): the same request gets the
same answer only while the CA's index is unchanged and the answer is young; another request never does."""

from __future__ import annotations

import os

from tests.lab.webserver import SignedAnswers


def test_kept_per_request_until_the_index_changes(tmp_path) -> None:
    index = tmp_path / "index.txt"
    index.write_text("V\t300101000000Z\t\t01\tunknown\t/CN=a\n")
    args = ["-index", str(index), "-CA", "ca.pem"]
    kept = SignedAnswers()
    kept.put(args, b"request-1", b"answer-1", kept.index_stamp(args))
    assert kept.get(args, b"request-1") == b"answer-1"
    assert kept.get(args, b"request-2") is None  # another serial, or a nonce: never another's answer
    assert kept.get(["-index", str(index), "-CA", "root.pem"], b"request-1") is None  # another responder
    stat = index.stat()
    os.utime(index, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a revocation rewrites the index
    assert kept.get(args, b"request-1") is None


def test_an_old_answer_is_signed_again(tmp_path) -> None:
    index = tmp_path / "index.txt"
    index.write_text("")
    args = ["-index", str(index)]
    kept = SignedAnswers(max_age_s=0.0)
    kept.put(args, b"r", b"a", kept.index_stamp(args))
    assert kept.get(args, b"r") is None


def test_bounded_and_a_missing_index_is_never_trusted(tmp_path) -> None:
    index = tmp_path / "index.txt"
    index.write_text("")
    args = ["-index", str(index)]
    kept = SignedAnswers(size=2)
    for n in range(3):
        kept.put(args, b"r%d" % n, b"a%d" % n, kept.index_stamp(args))
    assert kept.get(args, b"r0") is None and kept.get(args, b"r2") == b"a2"
    gone = ["-index", str(tmp_path / "missing")]
    kept.put(gone, b"r", b"a", kept.index_stamp(gone))
    assert kept.get(gone, b"r") is None
