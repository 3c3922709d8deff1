"""The reply-line readers (diagnose.knowledge.replies) and the host name label check
(diagnose.engine.hostnames) are string tests, not regular expressions, so that the probe's fast path
starts without ``re``: they answer as the regular expressions they replace (kept here as the reference),
on any text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnose.engine import hostnames
from diagnose.engine.hostnames import TargetError, normalise_domain
from diagnose.knowledge.replies import imap_capabilities, smtp_reply_line

SMTP_LINE = re.compile(r"^([2-5][0-9][0-9])([ -]|$)(.*)$")  # RFC 5321 §4.2.1, the reference


def smtp_reference(text: str, code: str | None) -> tuple[str, str, bool] | None:
    m = SMTP_LINE.match(text)
    if not m or (code is not None and m.group(1) != code):
        return None
    return m.group(1), m.group(3), m.group(2) != "-"


def imap_reference(line: str) -> tuple[str, ...]:
    m = re.search(r"\[CAPABILITY ([^\]]*)\]", line, re.I) or re.match(r"^\* CAPABILITY (.*)$", line, re.I)
    return tuple(c.upper() for c in m.group(1).split()) if m else ()


# text near the edges: codes, separators, newlines, brackets, letters whose case folds beyond ASCII
PIECES = ["250", "220", "199", "600", "2", "25", "25x", "2٥0", " ", "-", "\n", "\r", "ok", "\u0131", "\u212a", "]",
          "[", "[CAPABILITY ", "[capability ", "* CAPABILITY ", "* capaBILITY ", "IMAP4rev1", "STARTTLS", "\t"]
texts = st.lists(st.sampled_from(PIECES) | st.text(max_size=4), max_size=8).map("".join)


@settings(max_examples=600, deadline=None)
@given(texts, st.sampled_from([None, "250", "220"]))
def test_smtp_reply_lines_are_read_as_the_regular_expression_reads_them(text, code):
    assert smtp_reply_line(text, code) == smtp_reference(text, code)


@settings(max_examples=600, deadline=None)
@given(texts)
def test_imap_capabilities_are_read_as_the_regular_expression_reads_them(line):
    assert imap_capabilities(line) == imap_reference(line)


@pytest.mark.parametrize("line, expected", [
    ("250-mx.example.com Hello", ("250", "mx.example.com Hello", False)),
    ("250 OK", ("250", "OK", True)),
    ("250", ("250", "", True)),
    ("250\n", ("250", "", True)),
    ("250 a\nb", None),
    ("2500", None),
])
def test_smtp_reply_line_examples(line, expected):
    assert smtp_reply_line(line, None) == expected


LDH_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")  # the reference, but for its "$" before a final newline


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(["a", "z", "0", "9", "-", "_", "A", "x" * 63, "é", " ", "\n"]) | st.text(max_size=3),
                max_size=6).map("".join))
def test_host_name_labels_are_checked_as_the_regular_expression_checks_them(label):
    expected = bool(LDH_LABEL.match(label)) and not label.endswith("\n")
    assert hostnames._ldh_label(label) == expected


def test_a_label_with_a_newline_inside_is_refused():
    # the regular expression's "$" matched before a final newline: "mx\n.example.com" passed the label check
    with pytest.raises(TargetError, match="not a valid domain name"):
        normalise_domain("mx\n.example.com")
