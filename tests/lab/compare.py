"""Scenario comparison: does every lab scenario still get the same diagnosis?

    python -m tests.lab.compare run  --out before.json [--dir /tmp/mdlab-x | --net 127.95] [--jobs 4]
    python -m tests.lab.compare diff before.json after.json [--aliases renames.json]

``run`` diagnoses every scenario domain of a lab (``maildoctor check DOMAIN --format json``, with the
lab's resolver, CA and DNSBL; plus ``healthy+login``: the test mailbox with its password) and writes,
per scenario, the verdict, the exit code and the sorted findings as ``[check, status, subject, code]``.
The lab's net is replaced by ``NET`` in subjects, so runs on different nets compare. With ``--dir``
it uses that running lab; otherwise it starts one on ``--net`` (root) and stops it afterwards.

``diff`` compares two such files on (check, status, subject) and the verdict and exits 1 on any
difference. ``--aliases FILE.json`` maps renamed check ids, old to new: ``{"spf": "spf.record"}``; a
list (``{"spf": ["spf.record", "spf.lookups"]}``) for a check split in several; or
``{"checks": {...}, "codes": {...}}`` with renamed finding codes too. ``--aliases builtin`` takes
maildoctor's own table (diagnose/engine/aliases.py). ``--codes`` also compares the finding codes
(through the table's codes when it has them, else a renamed id as a prefix: ``spf.x`` -> ``spf.record.x``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.lab import Lab, LabError

ROOT = Path(__file__).resolve().parents[2]
MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))
LOGIN = "healthy+login"  # the healthy domain diagnosed for the test mailbox, with its password


def plan(lab: Lab, timeout: float) -> dict[str, list[str]]:
    """Scenario key -> the arguments of its ``maildoctor check``."""
    common = ["--nameserver", lab.resolver, "--ca-file", str(lab.ca_file), "--timeout", str(timeout),
              "--dnsbl", f"dnsbl.{lab.tld}", "--format", "json"]
    runs = {name: ["check", lab.domain(name), *common] for name in sorted(lab.scenarios)}
    runs[LOGIN] = ["check", lab.user, "--password-env", "MAILDOCTOR_COMPARE_PASSWORD", *common]
    return runs


def normalize(report: dict, net: str) -> dict:
    """The comparable part of one JSON report."""
    def subject(text: str) -> str:
        return text.replace(net + ".", "NET.")

    findings = sorted([f["check"], f["status"], subject(f["subject"]), f["code"]] for f in report["findings"])
    return {"verdict": report["verdict"], "checks": sorted(c["id"] for c in report["checks"]), "findings": findings}


def diagnose(lab: Lab, key: str, args: list[str]) -> dict:
    env = {**os.environ, "NO_COLOR": "1", "MAILDOCTOR_COMPARE_PASSWORD": lab.password}
    start = time.monotonic()
    try:
        proc = subprocess.run([MAILDOCTOR, *args], capture_output=True, text=True, timeout=300, env=env)
    except subprocess.TimeoutExpired:
        return {"key": key, "error": "maildoctor did not finish in 300 s"}
    entry: dict = {"key": key, "exit": proc.returncode, "seconds": round(time.monotonic() - start, 1)}
    try:
        entry.update(normalize(json.loads(proc.stdout), lab.net))
    except (ValueError, KeyError) as e:
        entry["error"] = f"no JSON report ({e}): {proc.stderr.strip()[-500:]}"
    return entry


def run(args: argparse.Namespace) -> int:
    started = None
    if args.dir:
        lab = Lab.load(args.dir)
        if not lab.running():
            sys.exit(f"compare: the lab in {args.dir} is not running")
    else:
        workdir = Path(tempfile.mkdtemp(prefix="mdlab-cmp-"))
        lab = started = Lab.start(workdir, net=args.net)
    try:
        runs = plan(lab, args.timeout)
        with ThreadPoolExecutor(args.jobs) as pool:
            entries = list(pool.map(lambda kv: diagnose(lab, *kv), runs.items()))
    finally:
        if started:
            started.stop()
            shutil.rmtree(started.workdir, ignore_errors=True)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    out = {
        "meta": {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": commit.strip(),
                 "tld": lab.tld, "timeout": args.timeout},
        "scenarios": {e.pop("key"): e for e in entries},
    }
    Path(args.out).write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    broken = [k for k, e in out["scenarios"].items() if "error" in e]
    print(f"{len(entries)} scenarios -> {args.out}" + (f"; no report for: {', '.join(broken)}" if broken else ""))
    return 1 if broken else 0


def load_aliases(path: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """(new check id -> old id, new code -> old code): both sides are compared in the old names."""
    if not path:
        return {}, {}
    if path == "builtin":
        from diagnose.engine import aliases

        table = {"checks": aliases.CHECK_IDS, "codes": aliases.CODES}
    else:
        table = json.loads(Path(path).read_text())
    if "checks" not in table and "codes" not in table:
        table = {"checks": table}
    return _reverse(table.get("checks", {})), _reverse(table.get("codes", {}))


def _reverse(renames: dict) -> dict[str, str]:
    back: dict[str, str] = {}
    for old, new in renames.items():
        for name in [new] if isinstance(new, str) else new:
            if back.get(name, old) != old:
                raise SystemExit(f"compare: aliases map both {back[name]!r} and {old!r} to {name!r}")
            back[name] = old
    return back


def _old(name: str, back: dict[str, str], codes: dict[str, str] | None = None) -> str:
    """An id or code in the old names. With a table of renamed codes a code is renamed only through
    it; else the longest renamed id that is the name or a dotted prefix of it is mapped back."""
    if codes:
        return codes.get(name, name)
    for new in sorted(back, key=len, reverse=True):
        if name == new or name.startswith(new + "."):
            return back[new] + name[len(new):]
    return name


def diff(args: argparse.Namespace) -> int:
    before, after = (json.loads(Path(p).read_text())["scenarios"] for p in (args.before, args.after))
    back, codes = load_aliases(args.aliases)
    width = 4 if args.codes else 3
    changed = 0
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        lines = []
        if a is None or b is None:
            lines.append(f"  only in {'after' if a is None else 'before'}")
        elif "error" in a or "error" in b:
            lines += [f"  before: {a.get('error', 'ok')}", f"  after:  {b.get('error', 'ok')}"] \
                if a.get("error") != b.get("error") else []
        else:
            if a["verdict"] != b["verdict"]:
                lines.append(f"  verdict {a['verdict']} -> {b['verdict']}")
            old = Counter(tuple(f[:width]) for f in a["findings"])
            new = Counter((_old(f[0], back), f[1], f[2], _old(f[3], back, codes))[:width] for f in b["findings"])
            lines += [f"  - {' '.join(f)}" for f in sorted((old - new).elements())]
            lines += [f"  + {' '.join(f)}" for f in sorted((new - old).elements())]
        if lines:
            changed += 1
            print(key)
            print("\n".join(lines))
    print(f"{len(before.keys() | after.keys())} scenarios compared: "
          + (f"{changed} differ" if changed else "every diagnosis is the same"))
    return 1 if changed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.lab.compare", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="diagnose every lab scenario and write a summary")
    r.add_argument("--out", required=True, help="summary JSON file to write")
    r.add_argument("--dir", help="use the running lab in DIR (else start one; root)")
    r.add_argument("--net", default=os.environ.get("MAILDOCTOR_LAB_NET", "127.77"), help="net of a started lab")
    r.add_argument("--timeout", type=float, default=3.0, help="maildoctor --timeout (default 3)")
    r.add_argument("--jobs", type=int, default=4, help="diagnoses at a time (default 4)")
    d = sub.add_parser("diff", help="compare two summaries; exit 1 when they differ")
    d.add_argument("before")
    d.add_argument("after")
    d.add_argument("--aliases", help="JSON: old check id -> new id (or ids), or {checks, codes}; 'builtin'")
    d.add_argument("--codes", action="store_true", help="also compare finding codes")
    args = parser.parse_args(argv)
    try:
        return run(args) if args.command == "run" else diff(args)
    except LabError as e:
        sys.exit(f"compare: {e}")


if __name__ == "__main__":
    sys.exit(main())
