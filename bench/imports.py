"""Start-up budget per command: what each command imports and what that costs, against a budget.

    .venv/bin/python bench/imports.py [--runs 9]

For each command: CPU of the whole process (fastest of --runs, less the bare interpreter measured in
the same run, so a loaded machine shifts both alike), the number of modules it loads, the import
time `python -X importtime` reports, and the heavy packages it must not load. A command over its
budget, or loading a forbidden package, is marked OVER. tests/test_startup.py asserts the forbidden
packages too (a correctness test); the CPU budgets live here only (timings are never test assertions).
bench/bench.py runs this as its "imports" section.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")

# The command runs in a child interpreter through the console entry point; the child then reports
# the modules loaded (top-level packages) on stderr.
WRAP = (
    "import sys\n"
    "from diagnose.app.entry import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit:\n"
    "    pass\n"
    "print('MODULES ' + ' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    "plugins = [m for m, mod in list(sys.modules.items())\n"
    "           if m.startswith('checks.') and not hasattr(mod, '__path__') and m != 'checks.index']\n"
    "print('PLUGINS ' + ' '.join(sorted(plugins)), file=sys.stderr)\n"
)
# the stdlib the probe's healthy path does without (tests/test_probe_fastpath.py asserts it)
FAST_PATH_FORBID = ["asyncio", "cryptography", "argparse", "gettext", "locale", "dataclasses", "inspect", "typing",
                    "pathlib", "datetime", "ipaddress", "socket", "ssl", "selectors", "re", "enum", "functools",
                    "collections"]
HEAVY = ("typer", "click", "rich", "textual", "pydantic", "dns", "cryptography", "dkim", "publicsuffixlist", "asyncio",
         "checks", "idna")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def commands(healthy: tuple[str, str, str] | None = None) -> dict[str, dict]:
    """command -> argv (after `maildoctor`), CPU budget above the bare interpreter (ms), forbidden packages;
    with ``healthy`` (a lab port's address, the name it serves, the lab CA) the probe's fast path too.

    The budgets are targets for a quiet machine (the probe's: start well under 150 ms with the network
    work included). On the shared 2-core EPYC of bench/RESULTS.md (2026-12-03, load average about 9
    from other work, which inflates CPU times too) every command was over by 15-60%. The forbidden
    packages hold on any machine (tests/test_startup.py asserts them).

    `check` after issue 21's start-up work (the registry imports only the selected checks): fastest of 21,
    interleaved with the code before it, load average about 4: 415 ms CPU and 478 modules (before: 504 ms,
    502 modules); with `--check spf.record` 300 ms and 346 modules (before: the same 504 ms and 502).
    What is left is mostly other packages' import: Typer ~40 ms (plus ~4 ms to build the one command and
    parse), asyncio with ssl ~25 ms, dnspython ~60 ms (of which ~25 ms is importlib.metadata, imported by
    dns._features at `import dns.name` to ask for the versions of idna and the DoH packages), cryptography
    ~30 ms when a check makes a TLS connection; and ~90 dataclass definitions of maildoctor's own modules at
    ~0.8 ms each (Python 3.11 compiles each generated method).

    Since the editable install's import hook is gone (setuptools' compat mode, scripts/setup.sh), `python
    -c pass` starts ~15 ms sooner: commands that import pathlib and friends anyway (`--version`, `--help`)
    are ~15 ms more "above python" without having changed; their budgets moved by that much.

    The probe's healthy path runs on the socket and TLS C modules (diagnose.net.rawtls) since the second
    session of issue 21: no socket, ssl, re, enum or functools; `-X importtime` 29.8 -> 8.8 ms, and its
    budget 35 -> 20 ms (the session itself included: connect, STARTTLS, handshake, certificate).

    Then (issue 21, start-up imports): `check` no longer imports dnspython's resolver and query modules
    (dns.message, dns.resolver, dns.asyncresolver, dns._ddr, dns.nameserver, dns.asyncquery, dns.query,
    and with them dns._features' look-ups of the DoH packages' versions), the authoritative look-up, PKCS#7
    and the email package's policy modules, json for text output, nor compiles the XML character filter
    (~8 ms) and a few other rarely used patterns; `--help`, `--version` and `checks` no longer import the
    report model. 485 -> 433 modules for `check`, 351 -> 310 with `--check spf.record`, 160 -> 156 for
    `--version`. Instructions (valgrind, deterministic on a busy VM), whole process: `check` up to the
    network 1224 -> 1091 M (-11%), `--check spf.record` 802 -> 708 M (-12%), `checks` 337 -> 303 M (-10%),
    `--version`/`--help` -7%; a full healthy diagnosis of the lab (JSON, the console script's path) 1615 ->
    1531 M (-5%; the text report saves the XML filter's ~8 ms more). `-X importtime` total, fastest of 7:
    `check` up to the network 371 -> 277 ms, `--check spf.record` 262 -> 211 ms. CPU, fastest of 15
    interleaved with the code before, load average about 2: `check` up to the network 363 -> 296 ms,
    `--check spf.record` 250 -> 182 ms, `--version` 96 -> 89 ms, `--help` 93 -> 84 ms; the full diagnosis,
    median of 40 at load 2-5, 569 -> 545 ms (CPU times on this VM move with the other work on it: single
    fastest-of-15 runs that afternoon ranged from -85 to +14 ms for it). Budgets: each lowered by its
    command's instruction ratio above python (after the rebase on the diagnosis CPU work: check 0.888,
    `--check spf.record` 0.878, checks 0.885, `--help` and `--version` 0.92), so they keep the stance they
    had: 360 -> 320, 250 -> 220, 110 -> 97, 105 -> 96, 95 -> 87 ms. Single CPU runs on this VM move by
    +-15% with the other work on it (at load 1.8, 19:11 UTC: check +343, spf +177, checks +88, --help +91,
    --version +87 ms above python).

    Then `check` without Typer (diagnose.app.checkargs reads its argv, diagnose.app.checkcmd runs it; Typer,
    its vendored Click and the command built from check's signature are no longer imported): 434 -> 401
    modules, 311 -> 278 with `--check spf.record`. Instructions (valgrind, the wrapped runs measured here,
    `python -c pass` 30 M): `check` up to the network 1461 -> 1136 M (above python x0.773), `--check
    spf.record` 823 -> 516 M (x0.613); a full healthy diagnosis of the lab through the console script (JSON to
    /dev/null, -q) 1842 -> 1533 M (-17%). CPU above python, two interleaved rounds of 9 at load 1-2: `check`
    +354/+360 -> +261/+284 ms, `--check spf.record` +267/+190 -> +123/+132 ms. Budgets: 320 -> 270 and
    220 -> 155 ms (the instruction ratios would give 247 and 135: a margin for the machines' spread), and
    both lines now forbid typer and click.

    Then maildoctor's own modules lighter to import (issue 21): a docstring on every dataclass a check run
    defines (dataclasses otherwise builds one from inspect.signature), eq=False on 32 never-compared ones (no
    __eq__/__hash__ compiled), imported when used: the Autodiscover request/answer code, the round trip's
    reply explanations and the SPF macro code (only a record with a "%" needs it); rarely read patterns
    compiled by re on first use, no `secrets` for DNS query ids. Own modules' import time (sum of each
    module's own time, fastest of 15, healthy lab diagnosis) 55 -> 47 ms. Instructions (valgrind, the wrapped
    runs measured here): `check` up to the network 760 -> 711 M (above python x0.933), `--check spf.record`
    439 -> 413 M (x0.937); a full healthy diagnosis of the lab (JSON to /dev/null, -q) 1165 -> 1115 M (-4.3%).
    CPU of that diagnosis, median of 60 interleaved runs at load 2-3: 341 -> 326 ms. CPU above python, two
    interleaved rounds of 15 at load 2-3: `check` +197/+181 -> +199/+179 ms, `--check spf.record` +112/+140
    -> +120/+95 ms (within this VM's noise). Budgets by the instruction ratios: 270 -> 252 and 155 -> 145 ms."""
    port = _closed_port()  # the probe's whole path, to a refusal: no server needed
    return {
        "--version": {"argv": ["--version"], "budget_ms": 87,
                      "forbid": ["rich", "textual", "pydantic", "dns", "cryptography", "dkim", "asyncio", "checks"]},
        "--help": {"argv": ["--help"], "budget_ms": 96,
                   "forbid": ["rich", "textual", "pydantic", "dns", "cryptography", "dkim", "asyncio", "checks"]},
        "checks": {"argv": ["checks"], "budget_ms": 97,
                   "forbid": ["rich", "textual", "pydantic", "dns", "cryptography", "dkim", "asyncio"]},
        # an address without --sni to a closed port: the full path (asyncio, cryptography), no server needed
        "probe ADDRESS:PORT (refused: the full path)": {
            "argv": ["probe", f"127.0.0.1:{port}", "--protocol", "smtp", "--timeout", "2"], "budget_ms": 120,
            "forbid": ["typer", "click", "rich", "textual", "pydantic", "dns", "dkim", "checks", "publicsuffixlist",
                       "idna"]},
        **({} if healthy is None else {"probe ADDRESS:25 --sni HOST (healthy: the fast path)": {
            "argv": ["probe", f"{healthy[0]}:25", "--sni", healthy[1], "--ca-file", healthy[2]], "budget_ms": 20,
            "script": True,  # the console script as monitoring starts it: no interpreter teardown (entry.end_now)
            "forbid": ["typer", "click", "rich", "textual", "pydantic", "dns", "dkim", "checks", "publicsuffixlist",
                       "idna", *FAST_PATH_FORBID]}}),
        # a resolver port where nothing listens: the run stops at its first DNS question, plugins loaded
        "check (imports and plugins, up to the network)": {
            "argv": ["check", "example.com", "--nameserver", f"127.0.0.1:{port}", "--timeout", "2", "--format", "json"],
            "budget_ms": 252,
            "forbid": ["typer", "click", "rich", "textual", "pydantic", "dkim"], "plugins": True},
        # one DNS-only check: its module alone, no TLS or certificate code
        "check --check spf.record (up to the network)": {
            "argv": ["check", "example.com", "--nameserver", f"127.0.0.1:{port}", "--timeout", "2", "--format", "json",
                     "--check", "spf.record"],
            "budget_ms": 145,
            "forbid": ["typer", "click", "rich", "textual", "pydantic", "dkim", "cryptography"],
            "plugins": ["checks.spf.check"]},
    }


def child_cpu(argv: list[str], runs: int) -> tuple[float, float, str]:
    """(fastest CPU s, fastest wall s, stderr of the last run) of a child process."""
    best_cpu, best_wall, err = float("inf"), float("inf"), ""
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best_cpu = min(best_cpu, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        best_wall = min(best_wall, wall)
        err = proc.stderr
    return best_cpu, best_wall, err


def importtime_ms(argv: list[str]) -> float:
    """The sum of top-level cumulative import times `-X importtime` prints (ms, one run)."""
    proc = subprocess.run([PY, "-X", "importtime", "-c", WRAP, *argv], capture_output=True, text=True, timeout=120)
    total = 0
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _self, cumulative, name = line.split(":", 1)[1].split("|")
            if cumulative.strip().isdigit() and not name.startswith("  "):  # top level only: no double count
                total += int(cumulative)
    return total / 1000


def measure(runs: int, healthy: tuple[str, str, str] | None = None) -> dict:
    floor_cpu, floor_wall, _ = child_cpu([PY, "-c", "pass"], runs)
    rows = {}
    for name, spec in commands(healthy).items():
        argv = [PY, "-c", WRAP, *spec["argv"]]
        cpu, wall, err = child_cpu(argv, runs)
        if spec.get("script"):  # the console script's own CPU; the modules from the wrapped run above
            cpu, wall, _ = child_cpu([str(ROOT / ".venv" / "bin" / "maildoctor"), *spec["argv"]], runs)
        mods = next((line[8:].split() for line in err.splitlines() if line.startswith("MODULES ")), [])
        packages = {m.split(".")[0] for m in mods}
        plugins = next((line[8:].split() for line in err.splitlines() if line.startswith("PLUGINS ")), [])
        loaded_forbidden = sorted(packages & set(spec["forbid"]))
        allowed = spec.get("plugins", False)  # True: any; a list: only these plugin modules
        extra = [p for p in plugins if allowed is not True and p not in (allowed or [])]
        if extra:
            loaded_forbidden.append(f"{len(extra)} other check plugins")
        over_floor = (cpu - floor_cpu) * 1000
        rows[name] = {"cpu_ms": cpu * 1000, "wall_ms": wall * 1000, "over_floor_ms": over_floor,
                      "budget_ms": spec["budget_ms"], "modules": len(mods),
                      "importtime_ms": importtime_ms(spec["argv"]),
                      "heavy_loaded": sorted(packages & set(HEAVY)), "forbidden_loaded": loaded_forbidden,
                      "ok": over_floor <= spec["budget_ms"] and not loaded_forbidden}
    return {"floor_cpu_ms": floor_cpu * 1000, "floor_wall_ms": floor_wall * 1000, "load": os.getloadavg(),
            "commands": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--healthy", nargs=3, metavar=("ADDRESS", "NAME", "CA_FILE"),
                    help="a healthy SMTP port 25 (a lab's mx1): also measure the probe's fast path")
    args = ap.parse_args()
    result = measure(args.runs, tuple(args.healthy) if args.healthy else None)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"python -c pass: {result['floor_cpu_ms']:.1f} ms CPU (fastest of {args.runs})")
    for name, r in result["commands"].items():
        print(f"{name:<48} {r['cpu_ms']:6.1f} ms CPU (+{r['over_floor_ms']:5.1f}, budget {r['budget_ms']}) "
              f"{r['modules']:4d} modules, importtime {r['importtime_ms']:6.1f} ms, heavy: "
              f"{','.join(r['heavy_loaded']) or '-'} {'ok' if r['ok'] else 'OVER ' + ','.join(r['forbidden_loaded'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
