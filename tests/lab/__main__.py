"""python -m tests.lab start|stop|status --dir DIR [--net 127.77] [--tld test]"""

from __future__ import annotations

import argparse
import json
import sys

from tests.lab.lab import Lab
from tests.lab.procs import LabError
from tests.lab.zones import DEFAULT_NET, DEFAULT_TLD


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.lab", description="maildoctor mail test lab")
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("start", help="start a lab (returns when it is ready)")
    st.add_argument("--dir", required=True, help="lab directory (state in DIR/lab.json)")
    st.add_argument("--net", default=DEFAULT_NET, help="127.A or 127.A.B (default %(default)s)")
    st.add_argument("--tld", default=DEFAULT_TLD, help="TLD of every lab name (default %(default)s)")
    st.add_argument("--timeout", type=float, default=30.0)
    sp = sub.add_parser("stop", help="stop the lab in DIR")
    sp.add_argument("--dir", required=True)
    ss = sub.add_parser("status", help="show the lab in DIR")
    ss.add_argument("--dir", required=True)
    ss.add_argument("--json", action="store_true", help="print the full state as JSON")
    sb = sub.add_parser("bulk", help="serve N extra simple healthy domains (bulk00001.<tld> ...); prints their names")
    sb.add_argument("--dir", required=True)
    sb.add_argument("--count", type=int, required=True)
    sb.add_argument("--label", default="bulk", help="name prefix (default %(default)s)")
    args = ap.parse_args(argv)

    try:
        if args.cmd == "start":
            lab = Lab.start(args.dir, net=args.net, tld=args.tld, timeout=args.timeout)
            print(lab.summary())
            return 0
        if args.cmd == "stop":
            try:
                lab = Lab.load(args.dir)
            except LabError as e:
                print(f"nothing to stop: {e}")
                return 0
            lab.stop()
            print(f"lab in {lab.workdir} stopped")
            return 0
        if args.cmd == "bulk":
            from tests.lab.bulk import add_bulk_domains

            names = add_bulk_domains(Lab.load(args.dir), args.count, label=args.label)
            sys.stdout.write("".join(n + "\n" for n in names))
            return 0
        if args.cmd == "status":
            lab = Lab.load(args.dir)
            st = lab.status()
            if args.json:
                print(json.dumps({**lab.state, "status": st}, indent=2, sort_keys=True))
                return 0 if st["running"] else 1
            print(lab.summary())
            print(f"  state: {'RUNNING' if st['running'] else 'NOT RUNNING'} ({st['state']})")
            for name, p in st["processes"].items():
                print(f"    {name:8} {'up  pid ' + str(p['pid']) if p['alive'] else 'DOWN'}")
            fw = st["firewall"]
            if fw.get("available"):
                state = "active" if fw.get("active") else ("MISSING" if st["running"] else "removed")
                print(f"    iptables chain {fw['chain']}: {state}")
            else:
                print(f"    iptables: UNAVAILABLE ({fw.get('error')}) - 'filtered' is not filtered")
            return 0 if st["running"] else 1
    except LabError as e:
        print(f"lab error: {e}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
