"""`maildoctor serve` against the lab over HTTP: a run's events, the stored report the same as the
CLI's, a private target refused at connect time, and a login whose password goes nowhere."""

from __future__ import annotations

import base64
import json

import pytest

from tests.web.server import Serve, cli_report, lab_args, outcome

pytestmark = pytest.mark.lab
def test_a_run_streams_its_events_and_keeps_the_cli_s_report(lab, tmp_path):
    with Serve(tmp_path, *lab_args(lab, "--allow-private"), nameserver=lab.resolver) as server:
        c = server.client()
        run = c.start(lab.domain("mixed"))
        events = c.events(run)
        kinds = [k for k, _ in events]
        # the same stream the CLI observes: checks start, findings arrive, checks finish, then the headline
        assert kinds[:2] == ["queued", "running"] and kinds[-2:] == ["done", "end"], kinds
        assert {"started", "finding", "finished", "flow"} <= set(kinds), kinds
        assert kinds.index("finding") < kinds.index("done")
        findings = [d for k, d in events if k == "finding"]
        assert any(f["code"] == "smtp.refused" or "refused" in f["summary"] for f in findings), findings
        assert "<svg" in next(d for k, d in events if k == "flow")["svg"]
        done = dict(events)["done"]
        assert done["report"] == run and done["verdict"] in ("warn", "fail") and done["refused"] == []
        # the permanent link is the HTML report with the downloads
        page = c.get(run)
        assert page.status == 200 and "maildoctor report: mixed." in page.body and "Permanent link" in page.body
        assert "'sha256-" in page.header("content-security-policy")  # the report's own <style>, by hash
        for fmt in ("html", "json", "markdown", "text", "junit", "nagios"):
            got = c.get(f"{run}/download/{fmt}")
            assert got.status == 200 and got.body.strip(), fmt
            assert got.header("content-disposition").startswith("attachment; filename=\"maildoctor-mixed."), fmt
        web = json.loads(c.get(f"{run}/download/json").body)
        history = c.get("/history?q=mixed")
        assert run in history.body
    assert outcome(web) == outcome(cli_report(lab, lab.domain("mixed")))


def test_without_allow_private_lab_addresses_are_refused_at_connect_time(lab, tmp_path):
    # Given a server for public targets, When a lab domain (its MX on 127.107.x) is diagnosed
    with Serve(tmp_path, *lab_args(lab), nameserver=lab.resolver) as server:
        c = server.client()
        run = c.start(lab.domain("healthy"))  # the name passes; its addresses are loopback
        done = dict(c.events(run))["done"]
        report = json.loads(c.get(f"{run}/download/json").body)
    # Then no connection was made: every refused address is listed, and no check claims a port works
    refused = {r["address"] for r in done["refused"]}
    assert lab.host("mx1") in refused and lab.host("imap") in refused, done
    assert all(r["why"] == "a loopback address" for r in done["refused"])
    codes = {f["code"]: f for f in report["findings"]}
    assert "tcp.connected" not in codes and "tcp.error" in codes
    assert "not connected" in codes["tcp.error"]["summary"]
    assert report["verdict"] != "pass"
    # a policy fetch that was never tried is an error, never a verdict on the domain
    assert all(f["status"] == "error" for f in report["findings"] if f["code"] == "mta_sts.policy_unreachable")


def test_a_typed_password_is_used_and_never_stored_logged_or_linked(lab, tmp_path):
    password = lab.password
    forms = {password, base64.b64encode(password.encode()).decode(),
             base64.b64encode(f"\0{lab.user}\0{password}".encode()).decode()}
    with Serve(tmp_path, *lab_args(lab, "--allow-private"), nameserver=lab.resolver) as server:
        c = server.client()
        reply = c.post_form("/run", {"csrf": c.csrf(), "target": lab.user, "user": lab.user, "password": password,
                                     "check": ["login", "servers"]})
        assert reply.status == 303, reply.body[:300]
        run = reply.header("location")
        events = c.events(run)
        report_json = c.get(f"{run}/download/json").body
        everything = [run, report_json, c.get(run).body, c.get(f"{run}/download/text").body,
                      json.dumps(events), server.log]
    report = json.loads(report_json)
    logins = [f for f in report["findings"] if f["check"].startswith("login.")]
    assert logins and any(f["status"] == "pass" for f in logins), [(f["code"], f["summary"]) for f in logins]
    stored = server.db.read_bytes() + b"".join(p.read_bytes() for p in server.db.parent.glob("serve.sqlite3-*"))
    for form in forms:
        assert form.encode() not in stored
        assert not any(form in text for text in everything)
