"""The TUI's view model on constructed events: grouping, filtering, hops, reruns (no textual)."""

from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check
from diagnose.engine.report import Report
from diagnose.tui.state import PROBLEMS, DiagnosisState, FormCredentials


class Dns(Check):
    id, title, side, services = "dns.exists", "The domain exists", Side.BOTH, ("dns",)


class Mx(Check):
    id, title, side, services = "mx.records", "MX records", Side.INCOMING, ("smtp",)


class Tcp(Check):
    id, title, side, services = "tcp.connect", "Port 25", Side.INCOMING, ("smtp",)


class Sub(Check):
    id, title, side, services = "submission.auth", "Submission", Side.OUTGOING, ("submission",)


def f(check, code, status, subject, host="", side=Side.INCOMING, **ev):
    return Finding(check=check, code=code, subject=subject, status=status, summary=f"{code} summary",
                   side=side, host=host, evidence=ev)


def state_with(*findings, running=()):
    st = DiagnosisState([Dns, Mx, Tcp, Sub], "example.test")
    st.begin(1, ("dns.exists", "mx.records", "tcp.connect", "submission.auth"), now=0.0)
    for cid in ("dns.exists", "mx.records", "tcp.connect", "submission.auth"):
        st.check_began(cid, now=0.0)
    for x in findings:
        st.add_finding(x)
    for cid in ("dns.exists", "mx.records", "tcp.connect", "submission.auth"):
        if cid not in running:
            st.check_ended(cid, Status.worst([x.status for x in findings if x.check == cid]), 0.1)
    return st


BROKEN = (
    f("dns.exists", "dns.exists", Status.PASS, "example.test", side=Side.BOTH),
    f("mx.records", "mx.records", Status.PASS, "example.test"),
    f("mx.records", "mx.target", Status.PASS, "MX 10 mx1.example.test", host="mx1.example.test"),
    f("tcp.connect", "tcp.refused", Status.FAIL, "mx1.example.test [192.0.2.1]:25", host="mx1.example.test", port=25),
    f("tcp.connect", "tcp.connected", Status.PASS, "mx1.example.test [192.0.2.2]:25", host="mx1.example.test", port=25),
)


def test_groups_side_then_host_and_port_then_check():
    groups = state_with(*BROKEN).groups()
    assert [g.title for g in groups] == ["Domain", "Incoming mail"]
    incoming = groups[1]
    assert incoming.status is Status.FAIL
    assert [h.label for h in incoming.hosts] == ["example.test", "mx1.example.test", "mx1.example.test:25"]
    port25 = incoming.hosts[2]
    assert [c.check.id for c in port25.checks] == ["tcp.connect"]
    assert [x.code for x in port25.checks[0].findings] == ["tcp.refused", "tcp.connected"]
    assert port25.checks[0].status is Status.FAIL


def test_problems_only_keeps_just_warn_error_fail():
    groups = state_with(*BROKEN).groups(problems_only=True)
    findings = [x for g in groups for h in g.hosts for c in h.checks for x in c.findings]
    assert [x.code for x in findings] == ["tcp.refused"]
    assert all(x.status in PROBLEMS for x in findings)


def test_running_checks_are_listed_under_their_side_until_they_end():
    st = state_with(*BROKEN[:3], running=("tcp.connect",))
    incoming = st.groups()[1]
    assert [r.id for r in incoming.running] == ["tcp.connect"]
    assert st.hop_status("mx") == "running"
    assert st.done == 3
    st.check_ended("tcp.connect", Status.PASS, 0.2)
    assert st.groups()[1].running == []


def test_hops_take_the_worst_status_and_untested_is_none():
    st = state_with(*BROKEN)
    assert st.hop_status("mx") is Status.FAIL
    assert st.hop_status("dns") is Status.PASS
    assert st.hop_status("submission") is None  # the submission check emitted nothing
    assert st.hop_status("mailbox") is None


def test_a_rerun_replaces_only_the_rerun_checks_findings():
    st = state_with(*BROKEN)
    st.ended(Report(target={"domain": "example.test"}, started_at="", duration_s=1, resolver={}, findings=list(BROKEN)))
    st.begin(2, ("tcp.connect",), now=5.0)
    st.check_began("tcp.connect", now=5.0)
    st.add_finding(f("tcp.connect", "tcp.connected", Status.PASS, "mx1.example.test [192.0.2.1]:25",
                     host="mx1.example.test", port=25))
    st.check_ended("tcp.connect", Status.PASS, 0.1)
    partial = Report(target={"domain": "example.test"}, started_at="", duration_s=0.1, resolver={},
                     findings=st.checks["tcp.connect"].findings)
    st.ended(partial)
    # the report to export holds every check's latest findings, not just the rerun's
    assert sorted(x.code for x in st.report.findings) == ["dns.exists", "mx.records", "mx.target", "tcp.connected"]
    assert st.report.worst is Status.PASS
    assert {c["id"] for c in st.report.checks} == {"dns.exists", "mx.records", "tcp.connect", "submission.auth"}


def test_credentials_never_show_the_password():
    creds = FormCredentials("user@example.test", "s3cret-pw")
    assert "s3cret-pw" not in repr(creds) and "s3cret-pw" not in str(creds)
    assert creds.password == "s3cret-pw"


def test_a_group_is_marked_by_its_worst_problem_and_skips_do_not_hide_passes():
    from diagnose.tui.state import group_status

    assert group_status([Status.PASS, Status.SKIP]) is Status.PASS
    assert group_status([Status.SKIP, Status.SKIP]) is Status.SKIP
    assert group_status([Status.PASS, Status.WARN, Status.SKIP]) is Status.WARN
    assert group_status([Status.WARN, Status.FAIL, Status.ERROR]) is Status.FAIL


def test_a_new_run_stops_what_the_cancelled_run_left_running():
    st = state_with(*BROKEN[:2], running=("mx.records", "tcp.connect"))
    st.begin(2, ("tcp.connect",), now=9.0)  # "rerun check" cancelled run 1 mid-way
    assert not st.checks["mx.records"].running
    assert [f.code for f in st.checks["mx.records"].findings] == ["mx.records"]  # what it found stays
    assert st.checks["tcp.connect"].findings == [] and st.checks["tcp.connect"].status is None
