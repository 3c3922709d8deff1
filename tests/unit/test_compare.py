"""tests/lab/compare.py diff: the same diagnosis under renamed check ids is the same; a changed one is not."""

import json

import pytest

from tests.lab import compare


def summary(*findings, verdict="fail"):
    return {"meta": {}, "scenarios": {"spftwo": {"verdict": verdict, "exit": 2, "findings": sorted(findings)}}}


BEFORE = summary(["dns.exists", "pass", "spftwo.test", "dns.exists"], ["spf", "fail", "spftwo.test", "spf.multiple"])
RENAMED = summary(["dns.exists", "pass", "spftwo.test", "dns.exists"],
                  ["spf.record", "fail", "spftwo.test", "spf.record.multiple"])


@pytest.fixture
def files(tmp_path):
    def write(name, data):
        path = tmp_path / name
        path.write_text(json.dumps(data))
        return str(path)
    return write


def test_renamed_ids_compare_equal_through_the_aliases(files, capsys):
    before, after = files("before.json", BEFORE), files("after.json", RENAMED)
    aliases = files("aliases.json", {"spf": ["spf.record", "spf.lookups"]})
    assert compare.main(["diff", before, after, "--aliases", aliases, "--codes"]) == 0
    assert "every diagnosis is the same" in capsys.readouterr().out
    assert compare.main(["diff", before, after]) == 1  # without the aliases the rename is a difference
    assert "- spf fail spftwo.test" in capsys.readouterr().out


def test_a_changed_status_or_verdict_is_reported(files, capsys):
    changed = summary(["dns.exists", "pass", "spftwo.test", "dns.exists"], ["spf", "warn", "spftwo.test", "spf.multiple"],
                      verdict="warn")
    assert compare.main(["diff", files("a.json", BEFORE), files("b.json", changed)]) == 1
    out = capsys.readouterr().out
    assert "verdict fail -> warn" in out and "+ spf warn spftwo.test" in out and "1 differ" in out


def test_aliases_that_merge_two_ids_are_refused(files):
    with pytest.raises(SystemExit, match="both"):
        compare.load_aliases(files("aliases.json", {"spf": "mail.policy", "dmarc": "mail.policy"}))


def test_renamed_codes_come_from_the_codes_table(files):
    before = summary(["tls.certificate", "fail", "mx [NET.0.60]:25", "cert.expired"])
    after = summary(["tls.certificate", "fail", "mx [NET.0.60]:25", "tls.cert_expired"])
    aliases = files("aliases.json", {"checks": {}, "codes": {"cert.expired": "tls.cert_expired"}})
    a, b = files("a.json", before), files("b.json", after)
    assert compare.main(["diff", a, b, "--codes", "--aliases", aliases]) == 0
    assert compare.main(["diff", a, b, "--codes"]) == 1
