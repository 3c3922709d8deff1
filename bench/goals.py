"""The "Done when" of issue 21, measured in one run with the peers (bench/bench.py, section "goals").

- the full diagnosis of the healthy lab domain (wall, CPU, peak memory) against the peers for the
  same coverage run one after the other: checkdmarc (DNS policy) plus check_ssl_cert on every port;
- `maildoctor probe` of one SMTP port against check_smtp -S (and openssl s_client as the floor);
- `maildoctor batch --workers 2` over 1,000 and 10,000 lab domains (cold resolver cache each time):
  targets/s, CPU per target (maildoctor, and the lab's Unbound and Knot), peak memory.
Each row carries the load average around it: on a shared machine wall times grow with the load,
CPU times much less. `bash bench/run.sh --only goals` runs just this (a few minutes).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from pathlib import Path

from common import CHECKDMARC, MAILDOCTOR, PLUGINS, Run, Sandbox, run, secs, table, timed_v

GOALS = {"full_wall": 0.3, "vs_peers": 20.0, "probe_wall": 0.150, "probe_vs_check_smtp": 3.0, "batch_rate": 300.0,
         "full_memory_mb": 80.0}


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def median_of(argv: list[str], runs: int, **kw) -> tuple[Run, float, float]:
    """(a median run, median wall, median CPU) of ``runs`` runs."""
    results = [run(argv, **kw) for _ in range(runs)]
    walls = sorted(results, key=lambda r: r.wall)
    return walls[len(walls) // 2], statistics.median(r.wall for r in results), statistics.median(r.cpu for r in results)


def daemon_cpu(lab, name: str) -> float:
    """CPU seconds (user + sys) a lab daemon has used so far, from /proc."""
    from tests.lab.procs import read_pid

    pid = read_pid(lab.state["processes"][name]["pidfile"])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def goals_section(lab, box: Sandbox, names: list[str], sizes: list[int], runs: int) -> list[str]:
    from tests.lab.bulk import restart_resolver

    healthy, ca = lab.domain("healthy"), str(lab.ca_file)
    rows: list[list] = []
    verdicts: list[list] = []

    # 1. the full diagnosis, and the peers for the same coverage
    before = load()
    check = [MAILDOCTOR, "check", healthy, "--nameserver", lab.resolver, "--ca-file", ca, "--timeout", "5",
             "--format", "json", "--quiet", "--output", os.devnull]
    _full, full_wall, full_cpu = median_of(check, runs)
    mem = timed_v(check)
    report = run([*check[:-3]])  # the same run with the JSON on stdout: the diagnosis's own duration
    try:
        duration = json.loads(report.out[report.out.index("{"):])["duration_s"]
    except ValueError:
        duration = float("nan")
    rows.append(["maildoctor check (full diagnosis)", f"median of {runs}", secs(full_wall), secs(full_cpu),
                 f"diagnosis {secs(duration)}, peak {mem.maxrss_kb / 1024:.0f} MB", f"{before} / {load()}"])
    before = load()
    peers = [run([CHECKDMARC, healthy, "--nameserver", lab.resolver, "-t", "5"], sandbox=box)]
    ports = [(h["fqdn"], h["addr"], port, service) for h in lab.scenarios["healthy"]["hosts"].values()
             for service, port in h["ports"].items()]
    for host, addr, port, service in ports:
        proto = {"smtp": "smtp", "submission": "smtp", "imap": "imap", "pop3": "pop3"}.get(service)
        peers.append(run([str(PLUGINS / "check_ssl_cert"), "-H", host, "--resolve", addr, "-p", str(port),
                          *(["-P", proto] if proto else []), "-r", ca, "--ignore-ocsp", "--ignore-sct", "-w", "14",
                          "-c", "7", "-t", "10"], sandbox=box))
    peer_wall, peer_cpu = sum(r.wall for r in peers), sum(r.cpu for r in peers)
    failed = sum(1 for r in peers if r.rc != 0)
    rows.append([f"peers: checkdmarc + check_ssl_cert on {len(ports)} ports", "one run each, summed",
                 secs(peer_wall), secs(peer_cpu), "all ok" if not failed else f"{failed} non-zero",
                 f"{before} / {load()}"])
    ratio = peer_wall / full_wall
    verdicts += [["full healthy diagnosis < 0.3 s wall", secs(full_wall), full_wall < GOALS["full_wall"]],
                 ["≥ 20x the peers (same coverage)", f"{ratio:.1f}x", ratio >= GOALS["vs_peers"]],
                 ["peak memory of a full diagnosis < 80 MB", f"{mem.maxrss_kb / 1024:.0f} MB",
                  mem.maxrss_kb / 1024 < GOALS["full_memory_mb"]]]

    # 2. one SMTP port: the probe against the C plugin
    addr, host = lab.host("mx1"), lab.hostname("mx1")
    before = load()
    probe_ip, p_wall, p_cpu = median_of([MAILDOCTOR, "probe", f"{addr}:25", "--sni", host, "--ca-file", ca], runs * 2)
    _probe_dns, pd_wall, pd_cpu = median_of([MAILDOCTOR, "probe", f"{host}:25", "--nameserver", lab.resolver,
                                             "--ca-file", ca], runs * 2)
    # Given an address, check_smtp and s_client ask DNS nothing: they run as the probe does, outside the
    # peers' resolver sandbox (whose unshare, sh and bind mount would add ~9 ms to their times)
    c_smtp, c_wall, c_cpu = median_of([str(PLUGINS / "check_smtp"), "-H", addr, "-p", "25", "-S", "-D", "14,7",
                                       "-t", "10"], runs * 2)
    _s, s_wall, s_cpu = median_of(["openssl", "s_client", "-connect", f"{addr}:25", "-starttls", "smtp", "-servername",
                                   host, "-CAfile", ca, "-brief"], runs * 2, stdin="")
    rows += [
        ["maildoctor probe ADDRESS:25 --sni HOST", f"median of {runs * 2}", secs(p_wall), secs(p_cpu),
         probe_ip.first_line[:60], f"{before} / {load()}"],
        ["maildoctor probe HOST:25 --nameserver", f"median of {runs * 2}", secs(pd_wall), secs(pd_cpu), "", ""],
        ["check_smtp -S -D 14,7 (C)", f"median of {runs * 2}", secs(c_wall), secs(c_cpu), c_smtp.first_line[:60], ""],
        ["openssl s_client -starttls smtp", f"median of {runs * 2}", secs(s_wall), secs(s_cpu), "", load()],
    ]
    verdicts += [["probe < 150 ms wall", secs(p_wall), p_wall < GOALS["probe_wall"]],
                 ["probe within 3x of check_smtp", f"{p_wall / c_wall:.1f}x",
                  p_wall / c_wall <= GOALS["probe_vs_check_smtp"]]]

    # 3. batch with two workers
    batch_rows = []
    with tempfile.TemporaryDirectory(prefix="bench-goals-") as tmp:
        for n in sizes:
            listing, out = Path(tmp) / f"list-{n}.txt", Path(tmp) / f"out-{n}.jsonl"
            listing.write_text("\n".join(names[:n]) + "\n")
            restart_resolver(lab, timeout=30.0)
            before, daemons = load(), {d: daemon_cpu(lab, d) for d in ("unbound", "knot")}
            r = timed_v([MAILDOCTOR, "batch", str(listing), "--nameserver", lab.resolver, "--timeout", "5",
                         "--output", str(out), "--no-progress", "--workers", "2"])
            served = {d: daemon_cpu(lab, d) - daemons[d] for d in daemons}
            results = [json.loads(line) for line in out.read_text().splitlines()]
            passed = sum(1 for x in results if x["verdict"] == "pass")
            rate = n / r.wall
            batch_rows.append([f"{n:,}", secs(r.wall), f"{rate:.0f}", f"{r.cpu / n * 1000:.2f} ms",
                               f"{served['unbound'] / n * 1000:.2f} / {served['knot'] / n * 1000:.2f} ms",
                               f"{r.maxrss_kb / 1024:.0f} MB", f"{passed}/{len(results)}", f"{before} / {load()}"])
            verdicts.append([f"batch ≥ 300 domains/s, --workers 2, {n:,} domains", f"{rate:.0f}/s",
                             rate >= GOALS["batch_rate"] and passed == n])
    if len(batch_rows) > 1:
        first, last = (float(row[5].split()[0]) for row in (batch_rows[0], batch_rows[-1]))
        verdicts.append(["batch memory flat", f"{batch_rows[0][5]} -> {batch_rows[-1][5]}", last <= first * 1.25])

    return ["## 0. The goals of issue 21 (one run, peers alongside)", "",
            table(["goal", "measured", "met"], [[g, m, "yes" if ok else "**no**"] for g, m, ok in verdicts]), "",
            "Full diagnosis and single port (wall and CPU medians; load average before / after each part):", "",
            table(["run", "runs", "wall", "CPU", "result", "load before / after"], rows), "",
            "Batch, `--workers 2`, default checks, resolver cache emptied before each size; CPU per target is "
            "maildoctor's (the parent and both workers), Unbound / Knot are the lab's resolver and authoritative "
            "server serving the same run:", "",
            table(["domains", "wall", "domains/s", "CPU per target", "Unbound / Knot CPU per target",
                   "peak memory (largest process)", "pass", "load before / after"], batch_rows), ""]
