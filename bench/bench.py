"""maildoctor benchmarks on the local lab, peers measured in the same run (start with bench/run.sh).

Sections: (0) "goals": the goals of issue 21 with their peers (bench/goals.py), "phases": the cost of
each phase of one diagnosis (bench/phases.py), "imports": the start-up budget per command
(bench/imports.py) -- `--only done` runs these three, a few minutes; (1) a full diagnosis of the
lab's healthy domain against the peer tools a person would
run for the same coverage, (2) timeouts with every MX filtered, (3) start-up time and peak memory,
(4) batch mode over 100 / 1,000 / 10,000 generated lab domains. Every tool talks only to the lab:
maildoctor and checkdmarc get the lab resolver, the TLS/SMTP probes get lab addresses, and every
peer that resolves a name runs with /etc/resolv.conf naming only the lab resolver (common.Sandbox);
the goals' check_smtp and s_client, given an address, ask DNS nothing and run bare, as the probe does.
Results: bench/RESULTS.md (and stdout).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chainrevocation import measure as measure_chain_revocation  # noqa: E402
from common import (  # noqa: E402 - bench/ is sys.path[0] when run as a script
    CHECKDMARC,
    MAILDOCTOR,
    PLUGINS,
    ROOT,
    Sandbox,
    hyperfine,
    machine,
    median_run,
    run,
    secs,
    table,
    timed_v,
    version,
)
from goals import goals_section  # noqa: E402
from imports import measure as measure_imports  # noqa: E402

from tests.lab import Lab  # noqa: E402
from tests.lab.bulk import add_bulk_domains, drop_address, restart_resolver  # noqa: E402

STARTTLS = {"smtp": "smtp", "submission": "smtp", "imap": "imap", "pop3": "pop3"}  # others: implicit TLS
SMTP_SERVICES = ("smtp", "submission", "submissions")


def endpoints(lab: Lab) -> list[dict]:
    """Every mail port of the healthy domain's hosts: host name, address, port, service."""
    out = []
    for _key, host in sorted(lab.scenarios["healthy"]["hosts"].items()):
        for service, port in host["ports"].items():
            out.append({"host": host["fqdn"], "addr": host["addr"], "port": port, "service": service})
    return out


def md(lab: Lab, domain: str, *args: str, timeout: str = "5", stdout: bool = False) -> list[str]:
    """A maildoctor check of domain, JSON report to /dev/null (or to stdout)."""
    sink = [] if stdout else ["--quiet", "--output", os.devnull]
    return [MAILDOCTOR, "check", domain, "--nameserver", lab.resolver, "--ca-file", str(lab.ca_file),
            "--timeout", timeout, "--format", "json", *sink, *args]


def peers_section(lab: Lab, box: Sandbox, args) -> list[str]:
    healthy, ca = lab.domain("healthy"), str(lab.ca_file)
    eps = endpoints(lab)
    if args.quick:  # one STARTTLS SMTP port and one implicit-TLS port
        eps = [next(e for e in eps if e["service"] == "smtp"), next(e for e in eps if e["service"] == "imaps")]
    runs = 1 if args.quick else 3
    rows, peer_total = [], 0.0

    def add(tool, covers, measured, maildoctor_part=None):
        nonlocal peer_total
        wall = sum(r.wall for r in measured)
        cpu = sum(r.cpu for r in measured)
        failed = [r for r in measured if r.rc not in (0,)]
        peer_total += wall
        part = ""
        if maildoctor_part is not None:
            part = f"{secs(maildoctor_part.wall)} ({wall / maildoctor_part.wall:.1f}x)"
        rows.append([tool, covers, len(measured), secs(wall), secs(cpu), part,
                     f"{len(failed)} non-zero" if failed else "all ok"])

    full = median_run(md(lab, healthy), runs, sandbox=box)
    tls_part = median_run(md(lab, healthy, "--check", "tls"), runs, sandbox=box)
    smtp_part = median_run(md(lab, healthy, "--check", "smtp.greeting"), runs, sandbox=box)
    dns_part = median_run(
        md(lab, healthy, "--check", "mx.records", "--check", "spf.record", "--check", "dmarc.record"), runs, sandbox=box
    )
    probe_part = median_run(md(lab, healthy, "--check", "smtp.greeting", "--check", "imap.greeting",
                               "--check", "pop3.greeting", "--check", "tls.certificate"), runs, sandbox=box)

    testssl = []
    for ep in eps:
        proto = ["-t", STARTTLS[ep["service"]]] if ep["service"] in STARTTLS else []
        # -p -S: protocols and the certificate: the part of a full scan that maildoctor covers too
        testssl.append(run(["testssl", "--quiet", "--color", "0", "--warnings", "off", "--ip", ep["addr"], *proto,
                            "--add-ca", ca, "-p", "-S", f"{ep['host']}:{ep['port']}"], sandbox=box))
    add("testssl.sh -p -S", "TLS protocols + certificate, each port", testssl, tls_part)

    swaks = []
    for ep in (e for e in eps if e["service"] in SMTP_SERVICES):
        tls = "--tlsc" if ep["service"] == "submissions" else "--tls"
        swaks.append(run(["swaks", "--server", ep["addr"], "--port", str(ep["port"]), "--to", f"postmaster@{healthy}",
                          "--from", f"bench@{healthy}", tls, "--quit-after", "HELO", "--timeout", "10", "-S"],
                         sandbox=box))
    add("swaks", "SMTP dialogue (EHLO, STARTTLS) per SMTP port", swaks, smtp_part)

    add("checkdmarc", "MX, SPF, DMARC (DNS)", [run([CHECKDMARC, healthy, "--nameserver", lab.resolver, "-t", "5"],
                                                   sandbox=box)], dns_part)

    plugins = []
    for ep in eps:
        svc, a, p = ep["service"], ep["addr"], str(ep["port"])
        cmd = {"smtp": ["check_smtp", "-S"], "submission": ["check_smtp", "-S"], "submissions": ["check_ssmtp"],
               "imap": ["check_imap"], "imaps": ["check_simap"], "pop3": ["check_pop"], "pop3s": ["check_spop"]}[svc]
        cert = ["-D", "14,7"] if svc not in ("imap", "pop3") else []
        plugins.append(run([str(PLUGINS / cmd[0]), *cmd[1:], "-H", a, "-p", p, *cert, "-t", "10"], sandbox=box))
    add("check_smtp/imap/pop (+ssl)", "greeting (+ cert days), each port", plugins, probe_part)

    ssl_cert = []
    for ep in eps:
        proto = {"smtp": "smtp", "submission": "smtp", "imap": "imap", "pop3": "pop3"}.get(ep["service"])
        ssl_cert.append(run([str(PLUGINS / "check_ssl_cert"), "-H", ep["host"], "--resolve", ep["addr"],
                             "-p", str(ep["port"]), *(["-P", proto] if proto else []), "-r", ca, "--ignore-ocsp",
                             "--ignore-sct", "-w", "14", "-c", "7", "-t", "10"], sandbox=box))
    add("check_ssl_cert", "certificate checks, each port", ssl_cert, tls_part)

    s_client = []
    for ep in eps:
        proto = ["-starttls", STARTTLS[ep["service"]]] if ep["service"] in STARTTLS else []
        s_client.append(run(["openssl", "s_client", "-connect", f"{ep['addr']}:{ep['port']}", *proto, "-servername",
                             ep["host"], "-CAfile", ca, "-verify_return_error", "-brief"], sandbox=box, stdin=""))
    add("openssl s_client", "one TLS handshake, each port", s_client)

    if args.testssl_full:
        ep = eps[0]
        full_scan = run(["testssl", "--quiet", "--color", "0", "--warnings", "off", "--ip", ep["addr"],
                         *(["-t", STARTTLS[ep["service"]]] if ep["service"] in STARTTLS else []), "--add-ca", ca,
                         f"{ep['host']}:{ep['port']}"], sandbox=box)
        rows.append(
            [
                "testssl.sh (default full scan)",
                f"everything, ONE port ({ep['host']}:{ep['port']}); not summed",
                1,
                secs(full_scan.wall),
                secs(full_scan.cpu),
                "",
                "ok" if full_scan.rc == 0 else f"rc {full_scan.rc}",
            ]
        )

    rows.append(
        [
            "**maildoctor check (full)**",
            "DNS, MX, SPF, DMARC, DKIM, MTA-STS, DANE, every port, TLS, certs, AUTH",
            1,
            secs(full.wall),
            secs(full.cpu),
            "",
            f"exit {full.rc}",
        ]
    )
    out = ["## 1. Full diagnosis of the healthy lab domain vs the peers", "",
           f"{len(eps)} mail ports on {len({e['addr'] for e in eps})} hosts; maildoctor times are the median of {runs} "
           "runs; 'maildoctor on that part' is `maildoctor check --check ...` limited to what the peer covers.", "",
           table(["tool", "covers", "runs", "wall (sum)", "CPU (sum)", "maildoctor on that part", "result"], rows), "",
           f"**Sum of the peers: {secs(peer_total)}; maildoctor full diagnosis: {secs(full.wall)} -> "
           f"{peer_total / full.wall:.1f}x faster than running the peers one after the other.**", ""]
    out += floor_rows(lab, box, runs)
    return out


def floor_rows(lab: Lab, box: Sandbox, runs: int) -> list[str]:
    """One SMTP port: the C probes set the floor; how close does maildoctor come?"""
    domain = lab.domain("implicit")  # no MX, one host with Postfix on 25
    addr, host = lab.host("implicit"), lab.hostname("implicit")
    one = median_run(md(lab, domain, "--check", "smtp.greeting", "--skip", "servers.discover"), runs, sandbox=box)
    ssl = median_run(md(lab, domain, "--check", "tls.handshake", "--skip", "servers.discover"), runs, sandbox=box)
    c_smtp = median_run([str(PLUGINS / "check_smtp"), "-H", addr, "-p", "25", "-S", "-t", "10"], runs, sandbox=box)
    s_client = median_run(["openssl", "s_client", "-connect", f"{addr}:25", "-starttls", "smtp", "-servername", host,
                           "-CAfile", str(lab.ca_file), "-brief"], runs, sandbox=box, stdin="")
    rows = [
        ["check_smtp -S (C)", secs(c_smtp.wall), secs(c_smtp.cpu)],
        ["openssl s_client -starttls smtp", secs(s_client.wall), secs(s_client.cpu)],
        ["maildoctor check --check smtp.greeting (DNS + greeting + EHLO + STARTTLS)", secs(one.wall), secs(one.cpu)],
        ["maildoctor check --check tls.handshake", secs(ssl.wall), secs(ssl.cpu)],
    ]
    return ["### One SMTP port: the floor set by the single-purpose C probes", "",
            f"Target `{domain}` (one host, port 25). maildoctor includes its Python start-up and the DNS lookups.", "",
            table(["tool", "wall", "CPU"], rows), ""]


def timeout_section(lab: Lab, box: Sandbox) -> list[str]:
    rows = []
    for domain in (lab.domain("allfiltered"), lab.domain("filtered")):
        for t in ("2", "4"):
            r = run(md(lab, domain, timeout=t, stdout=True), sandbox=box)
            try:
                diag = json.loads(r.out[r.out.index("{"):])["duration_s"]
            except ValueError:
                diag = float("nan")
            rows.append([domain, f"{t} s", secs(diag), secs(r.wall), f"{diag / float(t):.2f}"])
    return ["## 2. Timeouts: every MX filtered", "",
            f"`{lab.domain('allfiltered')}`: two MX hosts, both DROPped by iptables; `{lab.domain('filtered')}`: one. "
            "Full diagnosis (every check).", "",
            table(["domain", "--timeout", "diagnosis", "process wall", "diagnosis / timeout"], rows), ""]


def revocation_section(lab: Lab, runs: int = 11) -> list[str]:
    """What certificate revocation (OCSP, CRL, AIA against the lab CA) adds to a healthy diagnosis:
    interleaved runs with and without --no-revocation, the diagnosis time from each report."""
    domain = lab.domain("healthy")
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(runs):
        for checked in (True, False):
            r = run(md(lab, domain, *(() if checked else ("--no-revocation",)), stdout=True))
            times[checked].append(json.loads(r.out[r.out.index("{"):])["duration_s"])
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = [["revocation checked (default)", secs(med[True]), secs(min(times[True]))],
            ["--no-revocation", secs(med[False]), secs(min(times[False]))]]
    return ["## 5. Certificate revocation", "",
            f"Full diagnosis of `{domain}` ({runs} runs each, interleaved; diagnosis time from the report). "
            f"Revocation adds **{(med[True] - med[False]) * 1000:+.0f} ms** (medians), "
            f"**{(min(times[True]) - min(times[False])) * 1000:+.0f} ms** (fastest runs); on a loaded machine the "
            "fastest runs are the better estimate.", "",
            table(["run", "median", "fastest"], rows), "",
            *chain_revocation_lines(lab, 40 if runs > 3 else 10)]


def chain_revocation_lines(lab: Lab, runs: int) -> list[str]:
    """The intermediates' share: the leaf alone vs the leaf with its intermediate (bench/chainrevocation.py)."""
    m = measure_chain_revocation(lab, runs)
    rows = [[name, secs(m[key]["wall"]), f"{m[key]['cpu'] * 1000:.1f} ms"]
            for key, name in (("leaf", "server certificate only"), ("chain", "with the intermediate it sends"))]
    return [f"Asking the intermediate too (in process, a fresh fetcher per run, median of {runs}, interleaved): "
            f"**{(m['chain']['wall'] - m['leaf']['wall']) * 1000:+.1f} ms** wall, "
            f"**{(m['chain']['cpu'] - m['leaf']['cpu']) * 1000:+.1f} ms** CPU (one more CRL fetch and check, "
            "made at the same time as the leaf's).", "", table(["revocation of the healthy MX's chain", "wall", "CPU"],
                                                                rows), ""]


def startup_section(lab: Lab) -> list[str]:
    py = str(ROOT / ".venv" / "bin" / "python")
    hf = hyperfine({"python -c pass (floor)": f"{py} -c pass", "maildoctor --help": f"{MAILDOCTOR} --help",
                    "maildoctor --version": f"{MAILDOCTOR} --version", "maildoctor checks": f"{MAILDOCTOR} checks"})
    rows = [[name, secs(v["mean"]), secs(v["stddev"]), secs(v["user"] + v["system"])] for name, v in hf.items()]
    mem = timed_v(md(lab, lab.domain("healthy")))
    return ["## 3. Start-up and memory", "", "hyperfine, 3 warm-up runs, 20 runs each:", "",
            table(["command", "mean wall", "stddev", "CPU (user+sys)"], rows), "",
            f"Peak memory of a full diagnosis of `{lab.domain('healthy')}` (/usr/bin/time -v, maximum resident set "
            f"size): **{mem.maxrss_kb / 1024:.0f} MB** (wall {secs(mem.wall)}).", ""]


def batch_section(lab: Lab, names: list[str], sizes: list[int]) -> list[str]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        mid = min(1000, max(sizes))
        variants = [(n, []) for n in sizes] + [(mid, ["--skip", "tcp"]), (mid, ["--workers", "2"]),
                                                (mid, ["--skip", "tcp", "--workers", "2"])]
        for index, (n, extra) in enumerate(variants):
            listing, out = Path(tmp) / f"list-{n}.txt", Path(tmp) / f"out-{index}.jsonl"
            listing.write_text("\n".join(names[:n]) + "\n")
            restart_resolver(lab, timeout=30.0)  # a cold resolver cache for every run
            r = timed_v([MAILDOCTOR, "batch", str(listing), "--nameserver", lab.resolver, "--timeout", "5",
                         "--output", str(out), "--no-progress", *extra])
            results = [json.loads(line) for line in out.read_text().splitlines()]
            passed = sum(1 for x in results if x["verdict"] == "pass")
            rows.append([f"{n:,}", " ".join(extra) or "default (dns, mx, tcp, spf, dmarc)", secs(r.wall),
                         f"{n / r.wall:.0f}", f"{r.cpu / n * 1000:.1f} ms", f"{r.maxrss_kb / 1024:.0f} MB",
                         f"{passed}/{len(results)}"])
    return ["## 4. Batch mode", "",
            "Generated lab domains (each its own Knot zone: 2 MX, SPF, DMARC), `maildoctor batch` with the default "
            "concurrency (32), resolver cache emptied before each run.", "",
            table(["targets", "checks", "wall", "targets/s", "CPU per target", "peak memory", "pass"], rows), ""]


def phases_section(lab: Lab, runs: int) -> list[str]:
    import subprocess

    out = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "bench" / "phases.py"), "--resolver",
                          lab.resolver, "--ca-file", str(lab.ca_file), "--domain", lab.domain("healthy"), "--mx",
                          f"{lab.hostname('mx1')}={lab.host('mx1')}", "--runs", str(runs), "--json"],
                         capture_output=True, text=True, timeout=900, check=True).stdout
    before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    rows = [[name, secs(v["wall_median"]), secs(v["wall_min"]), secs(v["cpu_median"]) if "cpu_median" in v else ""]
            for name, v in json.loads(out).items()]
    return ["## Phases of one healthy diagnosis", "",
            f"`bench/phases.py`, {runs} runs each, maildoctor's own functions against `{lab.domain('healthy')}`'s "
            f"MX; CPU is maildoctor's process only (load average at the end: {before}).", "",
            table(["phase", "wall median", "wall fastest", "CPU median"], rows), ""]


def imports_section(lab: Lab, runs: int) -> list[str]:
    result = measure_imports(runs, (lab.host("mx1"), lab.hostname("mx1"), str(lab.ca_file)))
    rows = [[name, f"{r['cpu_ms']:.0f} ms", f"+{r['over_floor_ms']:.0f} ms", f"{r['budget_ms']} ms", r["modules"],
             f"{r['importtime_ms']:.0f} ms", ", ".join(r["heavy_loaded"]) or "-",
             "ok" if r["ok"] else "**OVER** " + ", ".join(r["forbidden_loaded"])]
            for name, r in result["commands"].items()]
    return ["## Start-up budget per command", "",
            f"`bench/imports.py`: CPU of the whole process, fastest of {runs}, and above `python -c pass` "
            f"({result['floor_cpu_ms']:.0f} ms in this run) against the budget; modules loaded; `-X importtime` "
            f"total (inflated by its own bookkeeping); load average {' '.join(f'{x:.1f}' for x in result['load'])}.",
            "", table(["command", "CPU", "above python", "budget", "modules", "importtime", "heavy packages",
                       "verdict"], rows), ""]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--net", default=os.environ.get("MAILDOCTOR_LAB_NET", "127.99"), help="lab net (default %(default)s)"
    )
    ap.add_argument("--sizes", default="100,1000,10000", help="batch sizes (default %(default)s)")
    ap.add_argument("--quick", action="store_true", help="two ports, one run each, no full testssl scan")
    ap.add_argument("--no-testssl-full", dest="testssl_full", action="store_false", help="skip the full testssl scan")
    ap.add_argument("--output", default=str(ROOT / "bench" / "RESULTS.md"))
    ap.add_argument("--only", default="goals,phases,imports,peers,timeouts,start-up,batch,revocation",
                    help="sections to run (default: all); 'done' = goals,phases,imports (issue 21's goals, minutes)")
    ap.add_argument("--goal-sizes", default="1000,10000", help="batch sizes of the goals section (default %(default)s)")
    args = ap.parse_args()
    args.only = args.only.replace("done", "goals,phases,imports")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    goal_sizes = [int(s) for s in args.goal_sizes.split(",") if s.strip()] if "goals" in args.only.split(",") else []
    if not {"batch", "goals"} & set(args.only.split(",")):
        sizes = []
    elif "batch" not in args.only.split(","):
        sizes = goal_sizes
    args.testssl_full = args.testssl_full and not args.quick
    tools = [f"maildoctor {version([MAILDOCTOR, '--version'], r'[0-9][^ ]*')}",
             version(["testssl", "--version"], r"testssl\s+[0-9.]+"),
             f"swaks {version(['swaks', '--version'], r'[0-9]{8}[^ ]*')}",
             f"checkdmarc {version([CHECKDMARC, '--version'], r'[0-9.]+')}",
             f"monitoring-plugins {version([str(PLUGINS / 'check_smtp'), '-V'], r'v[0-9.]+')}",
             version(["openssl", "version"], r"OpenSSL [0-9.a-z]+")]
    head = [f"# maildoctor benchmark results ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)", "",
            "Produced by `" + " ".join(["bash bench/run.sh", *sys.argv[1:]]) + "` (bench/bench.py); "
            "every number comes from this one run.", "",
            "Machine:", "", *[f"- {m}" for m in machine()],
            f"- tools: {', '.join(tools)}", ""]
    workdir = Path(f"/tmp/mdlab-bench-{args.net.replace('.', '-')}")
    print(f"bench: starting a lab on {args.net} in {workdir} ...", file=sys.stderr)
    lab = Lab.start(workdir, net=args.net)
    box = Sandbox(lab.resolver)
    try:
        prefix = lab.host("ns").rsplit(".", 1)[0]
        drop_address(lab, f"{prefix}.231")
        names = add_bulk_domains(lab, max(sizes + goal_sizes, default=0), extra={lab.domain("allfiltered"): [
            "@ MX 10 mxa", "@ MX 20 mxb", f"mxa A {lab.host('filtered')}", f"mxb A {prefix}.231"]})
        body = []
        runs = 3 if args.quick else 7
        for title, section in (("goals", lambda: goals_section(lab, box, names, goal_sizes, runs)),
                               ("phases", lambda: phases_section(lab, 5 if args.quick else 15)),
                               ("imports", lambda: imports_section(lab, 5 if args.quick else 11)),
                               ("peers", lambda: peers_section(lab, box, args)),
                               ("timeouts", lambda: timeout_section(lab, box)),
                               ("start-up", lambda: startup_section(lab)),
                               ("batch", lambda: batch_section(lab, names, sizes)),
                               ("revocation", lambda: revocation_section(lab, 3 if args.quick else 11))):
            if title not in args.only.split(","):
                continue
            print(f"bench: {title} ...", file=sys.stderr)
            part = section()
            print("\n".join(part), flush=True)
            body += part
        body.append(f"Load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}.")
    finally:
        box.close()
        lab.stop()
    Path(args.output).write_text("\n".join(head + body) + "\n")
    print(f"bench: results written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
