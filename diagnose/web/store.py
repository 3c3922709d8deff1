"""The history of `maildoctor serve`: finished reports in SQLite (stdlib sqlite3), kept ``keep_days``.

What is stored is the JSON report, which holds no password or token (the runner scrubs every
finding; credentials never enter a report): the permanent link and every download format are
rendered again from it by the renderers of `--format` (diagnose.web.app.stored_report).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id TEXT PRIMARY KEY,        -- the permanent link's random part
    created REAL NOT NULL,      -- seconds since the epoch (UTC)
    domain TEXT NOT NULL,       -- ASCII (punycode) form, lower case: what search matches
    target TEXT NOT NULL,       -- as shown: the unicode domain or the address
    verdict TEXT NOT NULL,      -- pass / warn / fail / error / skip
    headline TEXT NOT NULL,
    report TEXT NOT NULL        -- the JSON report (docs/json-schema.md)
);
CREATE INDEX IF NOT EXISTS reports_domain ON reports (domain, created);
CREATE INDEX IF NOT EXISTS reports_created ON reports (created);
"""
PAGE = 50  # rows per history page


@dataclass(frozen=True)
class Entry:
    id: str
    created: float
    domain: str
    target: str
    verdict: str
    headline: str


class History:
    """One SQLite file; one connection shared under a lock (calls are short: a row, a page)."""

    def __init__(self, path: Path, keep_days: float) -> None:
        self.path = path
        self.keep_s = keep_days * 86400
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
        self.expire()

    def add(self, entry: Entry, report_json: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO reports VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (entry.id, entry.created, entry.domain, entry.target, entry.verdict, entry.headline,
                              report_json))

    def report(self, run_id: str) -> tuple[Entry, str] | None:
        with self._lock:
            row = self._db.execute("SELECT id, created, domain, target, verdict, headline, report FROM reports "
                                   "WHERE id = ? AND created >= ?", (run_id, self._oldest())).fetchone()
        return (Entry(*row[:6]), row[6]) if row else None

    def search(self, domain: str = "", *, page: int = 0) -> list[Entry]:
        """The newest reports first; ``domain``: those whose domain contains it (case-insensitive)."""
        pattern = "%" + domain.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._lock:
            rows = self._db.execute(
                "SELECT id, created, domain, target, verdict, headline FROM reports "
                "WHERE created >= ? AND (domain LIKE ? ESCAPE '\\' OR lower(target) LIKE ? ESCAPE '\\') "
                "ORDER BY created DESC LIMIT ? OFFSET ?",
                (self._oldest(), pattern, pattern, PAGE + 1, max(0, page) * PAGE)).fetchall()
        return [Entry(*row) for row in rows]

    def expire(self) -> int:
        """Delete the reports older than the retention period; how many went."""
        with self._lock:
            return self._db.execute("DELETE FROM reports WHERE created < ?", (self._oldest(),)).rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _oldest(self) -> float:
        return time.time() - self.keep_s
