"""The per-run caches (server sessions, CA fetches) live as long as their run, not as the process:
`maildoctor serve`, batch and the Python API run many diagnoses in one process."""

import asyncio
import gc
import weakref

from diagnose.engine.facts import FactBoard
from diagnose.engine.plugin import CheckContext, Options
from diagnose.engine.target import parse_target
from diagnose.net.cafetch import ca_fetcher
from diagnose.net.probes import probes
from diagnose.net.resolver import Dns, Nameserver


def test_a_runs_caches_die_with_its_context():
    # Given a run's context whose checks asked for the shared probes and the CA fetcher
    async def one_run() -> weakref.ref:
        dns = Dns([Nameserver("127.0.0.1", 9)], timeout=1)  # never asked
        ctx = CheckContext(parse_target("example.test"), dns, Options(timeout=1), FactBoard())
        assert probes(ctx) is probes(ctx) and ca_fetcher(ctx) is ca_fetcher(ctx)  # one of each per run
        return weakref.ref(ctx)

    gone = asyncio.run(one_run())
    # When the run is over
    gc.collect()
    # Then nothing keeps its context (and with it the resolver cache, sessions and tasks) alive
    assert gone() is None, [type(r).__name__ for r in gc.get_referrers(gone())]
