"""What asking the intermediates adds to certificate revocation: the leaf alone
(``CaFetcher.revocation``) against the leaf with the intermediates it was sent (``CaFetcher.chain``,
which asks them at the same time), in process against a running lab, a fresh fetcher (no cache) per run:

    .venv/bin/python bench/chainrevocation.py --dir /tmp/mdlab-x [--runs 40]

Wall and CPU medians of interleaved runs (the first 5 of each are warm-up). bench/bench.py runs it
in its "revocation" section.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509  # noqa: E402

from diagnose.engine.facts import FactBoard  # noqa: E402
from diagnose.engine.plugin import CheckContext, Options  # noqa: E402
from diagnose.engine.target import parse_target  # noqa: E402
from diagnose.net.cafetch import ca_fetcher  # noqa: E402
from diagnose.net.resolver import Dns, parse_nameserver  # noqa: E402
from tests.lab import Lab  # noqa: E402

WARM_UP = 5


async def _once(lab: Lab, chain: list[x509.Certificate], whole: bool) -> tuple[float, float]:
    dns = Dns([parse_nameserver(lab.resolver)], timeout=2)
    ctx = CheckContext(parse_target(lab.domain("healthy")), dns, Options(timeout=2, ca_file=Path(lab.ca_file)),
                       FactBoard())
    fetcher = ca_fetcher(ctx)
    wall, cpu = time.perf_counter(), time.process_time()
    if whole:
        leaf, above = await fetcher.chain(chain)
        assert leaf.outcome == "good" and [a.result.outcome for a in above] == ["good"], (leaf, above)
    else:
        assert (await fetcher.revocation(chain)).outcome == "good"
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(lab: Lab, runs: int = 40) -> dict[str, dict[str, float]]:
    """{"leaf": {...}, "chain": {...}}: wall and CPU medians in seconds of the healthy MX's chain."""
    chain = x509.load_pem_x509_certificates(Path(lab.hosts["mx1"]["cert"]["chain"]).read_bytes())

    async def go() -> dict[bool, list[tuple[float, float]]]:
        times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for _ in range(runs + WARM_UP):
            for whole in (False, True):
                times[whole].append(await _once(lab, chain, whole))
        return times

    times = asyncio.run(go())
    return {("chain" if whole else "leaf"): {"wall": statistics.median(t[0] for t in got[WARM_UP:]),
                                             "cpu": statistics.median(t[1] for t in got[WARM_UP:])}
            for whole, got in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True, help="a running lab's directory")
    ap.add_argument("--runs", type=int, default=40)
    args = ap.parse_args()
    for name, m in measure(Lab.load(Path(args.dir)), args.runs).items():
        print(f"{name:5}  wall {m['wall'] * 1000:6.1f} ms  CPU {m['cpu'] * 1000:5.1f} ms")


if __name__ == "__main__":
    main()
