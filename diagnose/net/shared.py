"""Answers shared between the targets of one batch: DNS answers (diagnose.app.batchcore.SharedDns)
and port-25 connection outcomes (``SharedConnects``). Ten thousand domains hosted at one provider
name the same MX hosts: their addresses are asked, and their port 25 tried, once, not once per domain.

Every key has at most one attempt in flight (concurrent askers await the same task); a finished
answer is kept until it expires, and at most ``entries`` are kept (least recently used dropped
first), so memory stays flat however long the batch runs.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from diagnose.net.tcp import ConnectOutcome, ConnectResult, tcp_connect

V = TypeVar("V")


class SharedAnswers(Generic[V]):
    """key -> one shared task; ``lifetime(answer)`` says how many seconds a finished answer is reused."""

    def __init__(self, *, entries: int, lifetime: Callable[[V], float]) -> None:
        self.entries = entries
        self._lifetime = lifetime
        self._lru: OrderedDict[Hashable, tuple[float, asyncio.Future[V]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._lru)

    async def get(self, key: Hashable, ask: Callable[[], Awaitable[V]], *, max_age: float) -> V:
        """The answer for ``key``: a kept one, the one in flight, or a new ``ask()`` (kept ``max_age`` s at most)."""
        hit = self._lru.get(key)
        if hit is not None and (not hit[1].done() or time.monotonic() < hit[0]):
            self._lru.move_to_end(key)
            fut = hit[1]
            if fut.done():  # a kept answer: no shield needed (most askers of a batch end here)
                return fut.result()
        else:
            fut = asyncio.ensure_future(ask())
            self._lru[key] = (time.monotonic() + max_age, fut)
            self._lru.move_to_end(key)
            fut.add_done_callback(functools.partial(self._stamp, key, max_age))
            while len(self._lru) > self.entries:
                self._lru.popitem(last=False)
        return await asyncio.shield(fut)

    def _stamp(self, key: Hashable, max_age: float, fut: asyncio.Future[V]) -> None:
        entry = self._lru.get(key)
        if entry is None or entry[1] is not fut:
            return
        if fut.cancelled() or fut.exception() is not None:
            del self._lru[key]  # never reuse a failure of ours; the next asker tries again
            return
        self._lru[key] = (time.monotonic() + min(self._lifetime(fut.result()), max_age), fut)


CONNECT_ENTRIES = 4096  # (address, port) outcomes kept
CONNECT_MAX_AGE_S = 60.0  # an outcome is reused for a minute at most: a batch is a survey, not a monitor


class SharedConnects:
    """tcp_connect shared by address and port: the outcome of one attempt serves every target whose
    MX hosts include that address within CONNECT_MAX_AGE_S (a timeout too: the address was silent)."""

    def __init__(self, entries: int = CONNECT_ENTRIES) -> None:
        self._answers: SharedAnswers[ConnectResult] = SharedAnswers(entries=entries, lifetime=self._lifetime)

    @staticmethod
    def _lifetime(result: ConnectResult) -> float:
        # an error of this machine (not the server's answer) is not shared: the next target tries again
        return 0.0 if result.outcome is ConnectOutcome.ERROR else CONNECT_MAX_AGE_S

    async def connect(self, address: str, port: int, *, timeout: float) -> ConnectResult:
        return await self._answers.get((address, port, timeout), lambda: tcp_connect(address, port, timeout=timeout),
                                       max_age=CONNECT_MAX_AGE_S)
