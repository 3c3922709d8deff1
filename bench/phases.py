"""The cost of each phase of one healthy diagnosis, measured with maildoctor's own functions against
the lab, so the next regression shows which phase it is in:

    .venv/bin/python bench/phases.py --resolver 127.99.0.54 --ca-file CA --domain healthy.test \
        --mx mx1.healthy.test=127.99.0.10 [--runs 15] [--json]

start-up (a fresh interpreter importing what `check` imports, and loading the plugins), DNS (one MX
lookup through a fresh resolver), connect (TCP to port 25), greeting (connect to 220), TLS (one
implicit-TLS handshake on 465), certificate judgement (knowledge.certs on the chain that handshake
got), the whole diagnosis (its own duration) and report rendering (text, json, html of its report).
Each phase: median and fastest of --runs, wall and CPU (this process's CPU: for the network phases
it is maildoctor's share, not the servers'). bench/bench.py runs this as its "phases" section.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# what `maildoctor check` imports before it runs (bench/imports.py checks the same list's cost)
STARTUP = ("import diagnose.app.entry, diagnose.app.checkcmd, diagnose.app.checkargs, diagnose.app.plan, "
           "diagnose.app.session; "
           "from diagnose.engine.registry import discover; discover()")


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(fn: Callable[[], object], runs: int) -> dict:
    walls, cpus = [], []
    for _ in range(runs):
        c, t = cpu(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(cpu() - c)
    return {"wall_median": statistics.median(walls), "wall_min": min(walls),
            "cpu_median": statistics.median(cpus), "cpu_min": min(cpus)}


def child_timed(argv: list[str], runs: int) -> dict:
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return {"wall_median": statistics.median(walls), "wall_min": min(walls),
            "cpu_median": statistics.median(cpus), "cpu_min": min(cpus)}


def measure(args: argparse.Namespace) -> dict[str, dict]:
    from diagnose.app.api import run as diagnose_run
    from diagnose.knowledge.certs import evaluate_certificate
    from diagnose.net.dialogue import Endpoint, run_dialogue
    from diagnose.net.resolver import Dns, parse_nameserver
    from diagnose.net.tcp import tcp_connect
    from diagnose.net.tls import probe_context, session_info, trust_store
    from reports import renderer

    mx_host, mx_addr = args.mx.split("=")
    ns = [parse_nameserver(args.resolver)]
    ca = Path(args.ca_file)
    out: dict[str, dict] = {}
    py = sys.executable
    out["start-up: python alone"] = child_timed([py, "-c", "pass"], args.runs)
    out["start-up: imports + plugins of check"] = child_timed([py, "-c", STARTUP], args.runs)

    def dns_lookup() -> None:
        async def go() -> None:
            result = await Dns(ns, timeout=5).query(args.domain, "MX")
            assert result.records, result
        asyncio.run(go())

    def connect() -> None:
        result = asyncio.run(tcp_connect(mx_addr, 25, timeout=5))
        assert result.outcome.value == "connected", result

    def greeting() -> None:
        async def go() -> None:
            reader, writer = await asyncio.open_connection(mx_addr, 25)
            line = await asyncio.wait_for(reader.readline(), 5)
            assert line.startswith(b"220"), line
            writer.transport.abort()
        asyncio.run(go())

    chains = []

    def tls() -> None:
        async def go() -> None:
            _r, writer = await asyncio.open_connection(mx_addr, 465, ssl=probe_context(), server_hostname=mx_host,
                                                       ssl_handshake_timeout=5)
            chains.append(session_info(writer.get_extra_info("ssl_object")).chain)
            writer.transport.abort()
        asyncio.run(go())

    def dialogue() -> None:
        d = asyncio.run(run_dialogue(Endpoint("mx", mx_host, mx_addr, 25), timeout=5))
        assert d.tls is not None, d.failure

    # an event loop per call is part of each network phase's cost; one is created first so the
    # first run does not also pay for importing what asyncio loads lazily
    asyncio.run(asyncio.sleep(0))
    out["DNS: one MX lookup (fresh resolver)"] = timed(dns_lookup, args.runs)
    out["connect: TCP to port 25"] = timed(connect, args.runs)
    out["greeting: connect to the 220 line"] = timed(greeting, args.runs)
    out["TLS: implicit-TLS handshake on 465"] = timed(tls, args.runs)
    out["SMTP session: greeting, EHLO, STARTTLS, TLS, EHLO, QUIT"] = timed(dialogue, args.runs)
    store = trust_store(ca)
    chain = list(chains[-1])
    now = dt.datetime.now(dt.UTC)
    out["certificate judgement (knowledge.certs)"] = timed(
        lambda: evaluate_certificate(chain, mx_host, now, anchors=store.anchors, intermediates=store.intermediates),
        args.runs)
    reports = []

    def full() -> None:
        reports.append(diagnose_run(args.domain, nameservers=[args.resolver], timeout=5, ca_file=str(ca)))

    out["full diagnosis (in process, imports done)"] = timed(full, max(3, args.runs // 3))
    out["full diagnosis: its own duration_s"] = {
        "wall_median": statistics.median(r.duration_s for r in reports), "wall_min": min(r.duration_s for r in reports)}
    report = reports[-1]
    for fmt in ("text", "json", "html"):
        render = renderer(fmt)
        render(report)  # the first call imports the renderer: that is start-up, not rendering
        out[f"report rendering: {fmt}"] = timed(lambda render=render: render(report), args.runs)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolver", required=True)
    ap.add_argument("--ca-file", required=True)
    ap.add_argument("--domain", required=True)
    ap.add_argument("--mx", required=True, help="HOST=ADDRESS of an MX with ports 25 and 465")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    result = measure(args)
    if args.json:
        print(json.dumps(result))
    else:
        for name, v in result.items():
            cpu_part = f"  cpu {v['cpu_median'] * 1000:7.1f} ms" if "cpu_median" in v else ""
            print(f"{name:<58} wall {v['wall_median'] * 1000:7.1f} ms (min {v['wall_min'] * 1000:6.1f}){cpu_part}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
