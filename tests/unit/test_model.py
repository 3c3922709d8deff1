"""The finding model: ``reason`` on skips and errors, and the JSON round trip."""

from diagnose.engine.model import Finding, Status
from diagnose.engine.plugin import Check


def make(status: Status, summary: str = "the summary", **kw) -> Finding:
    return Finding(check="c", code="c.x", subject="s", status=status, summary=summary, **kw)


def test_skip_and_error_without_a_reason_take_the_summary_as_it_is():
    assert make(Status.SKIP, "not tested: no MX").reason == "not tested: no MX"
    assert make(Status.ERROR, "the check failed internally: boom").reason == "the check failed internally: boom"


def test_pass_warn_fail_carry_no_reason_unless_given():
    assert [make(s).reason for s in (Status.PASS, Status.WARN, Status.FAIL)] == ["", "", ""]


def test_reason_round_trips_through_json_dict():
    skip = make(Status.SKIP, "not tested: no credentials", reason="no credentials")
    data = skip.to_dict()
    assert data["reason"] == "no credentials"
    assert Finding.from_dict(data) == skip


def test_a_report_finding_from_before_reason_still_loads():
    old = make(Status.SKIP, "not tested: no MX").to_dict()
    del old["reason"]
    assert Finding.from_dict(old).reason == "not tested: no MX"
    passed = make(Status.PASS).to_dict()
    del passed["reason"]
    assert Finding.from_dict(passed).reason == ""


class Skipper(Check):
    id = "t.skipper"
    title = "skips"
    texts = {"t.skipper.skipped": ("because {reason}", "")}


def test_check_finding_passes_reason_to_the_finding_and_its_texts():
    f = Skipper().finding("t.skipper.skipped", Status.SKIP, "s", "not tested: no way", reason="no way")
    assert (f.reason, f.summary, f.explanation) == ("no way", "not tested: no way", "because no way")
