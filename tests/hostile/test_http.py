"""Hostile HTTPS servers behind the MTA-STS policy and the autoconfig file (port 443).

The certificate is sane and trusted through --ca-file, so the fault is only in what the server
says: garbage, endless headers, one byte every half second, hostile text and numbers in the body,
broken chunked encoding, a body without end. The fetch must stay within its time and size limits
and the checks must give clean, non-passing findings.
"""

from __future__ import annotations

import pytest

from tests.hostile.absurdcerts import mint_server
from tests.hostile.conftest import DNS_INDEX, Kit, addr, assert_clean, domain, run_cli

T = 1.0
LIMIT = 6 * T + 2  # seconds of diagnosis: a dialogue has ~6 bounded phases; DNS is quick
MODES = {"garbage": 80, "endless_headers": 81, "slow": 82, "hostile_body": 83, "chunked_garbage": 84, "huge_body": 85}


def case(mode: str) -> str:
    return "http-" + mode.replace("_", "-")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    directory = tmp_path_factory.mktemp("https")
    hosts = [f"{prefix}.{domain(case(m))}" for m in MODES for prefix in ("mta-sts", "autoconfig")]
    cert, key = mint_server(hosts)
    (directory / "cert.pem").write_bytes(cert)
    (directory / "key.pem").write_bytes(key)
    records, servers = [], []
    for mode, index in MODES.items():
        d = domain(case(mode))
        records += [[d, "MX", f"10 mx.{d}."], [f"mx.{d}", "A", addr(index)],
                    [f"_mta-sts.{d}", "TXT", '"v=STSv1; id=20260101"'],
                    [f"mta-sts.{d}", "A", addr(index)], [f"autoconfig.{d}", "A", addr(index)]]
        servers += [
            {
                "address": addr(index),
                "ports": [443],
                "behaviour": "https",
                "args": {
                    "mode": mode,
                    "cert_file": str(directory / "cert.pem"),
                    "key_file": str(directory / "key.pem"),
                },
            },
            {"address": addr(index), "ports": [25], "behaviour": "polite"},
        ]
    k = Kit({"dns": {"address": addr(DNS_INDEX), "records": records}, "servers": servers})
    yield directory / "cert.pem"
    k.stop()


@pytest.mark.parametrize("mode", list(MODES))
def test_hostile_https_answers(setup, mode):
    run = run_cli(["check", domain(case(mode)), "--nameserver", addr(DNS_INDEX), "--timeout", str(T),
                   "--ca-file", str(setup), "--verbose"], limit=LIMIT, json_report=True)
    assert_clean(run)
    assert run.statuses("mta_sts.policy") and "pass" not in run.statuses("mta_sts.policy"), run
    assert "pass" not in run.statuses("autoconfig.settings"), run
