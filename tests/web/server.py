"""A `maildoctor serve` process on a free loopback port, and a small HTTP client with cookies and
Server-Sent Events, for the HTTP-level tests (tests/web) and the browser tests (tests/browser)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))
DEAD_RESOLVER = "127.0.0.1:9"  # nothing answers there: a run without the lab never asks a real resolver


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Serve:
    """`maildoctor serve ARGS` on ``host``:a free port; stop() ends it (its stderr is kept in ``log``)."""

    def __init__(self, tmp: Path, *args: str, host: str = "127.0.0.1", env: dict[str, str] | None = None,
                 nameserver: str = DEAD_RESOLVER) -> None:
        self.host, self.port = host, free_port(host)
        self.db = tmp / "serve.sqlite3"
        self.log_path = tmp / f"serve-{self.port}.log"
        argv = [MAILDOCTOR, "serve", "--host", host, "--port", str(self.port), "--db", str(self.db),
                "--nameserver", nameserver, *args]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # poll for readiness, no fixed sleep
            if self.proc.poll() is not None:
                raise RuntimeError(f"maildoctor serve exited {self.proc.returncode}: {self.log}")
            try:
                with socket.create_connection((host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"maildoctor serve did not listen within 20 s: {self.log}")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self) -> Client:
        return Client(self.host, self.port)

    def rss_peak_kb(self) -> int:
        """The server process's peak resident memory so far (VmHWM), in kB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("no VmHWM")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()

    def __enter__(self) -> Serve:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass
class Client:
    """HTTP/1.1 to the server with a cookie jar (what a browser would keep)."""

    host: str
    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None,
                timeout: float = 30) -> Reply:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        sent = dict(headers or {})
        if self.cookies:
            sent.setdefault("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        conn.request(method, path, body=body.encode() if body is not None else None, headers=sent)
        resp = conn.getresponse()
        self._keep_cookies(resp)
        reply = Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode("utf-8", "replace"))
        conn.close()
        return reply

    def _keep_cookies(self, resp: http.client.HTTPResponse) -> None:
        for value in resp.headers.get_all("set-cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";")[0]

    def get(self, path: str, **kw) -> Reply:
        return self.request("GET", path, **kw)

    def post_form(self, path: str, fields: dict[str, str | list[str]], headers: dict[str, str] | None = None) -> Reply:
        return self.request("POST", path, urlencode(fields, doseq=True),
                            {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})

    def csrf(self) -> str:
        """The CSRF value the form carries (loads the form, which sets the cookie)."""
        self.get("/", headers={"Accept": "text/html"})
        return self.cookies["md_csrf"]

    def start(self, target: str, **fields: str | list[str]) -> str:
        """Submit the form; the run's path (/r/ID)."""
        reply = self.post_form("/run", {"csrf": self.csrf(), "target": target, **fields})
        assert reply.status == 303, (reply.status, reply.body[:500])
        return reply.header("location")

    def events(self, run_path: str, timeout: float = 120) -> list[tuple[str, dict]]:
        """Follow the run's SSE stream to its end: (event, data) pairs in order."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        conn.request("GET", run_path + "/events", headers={"Accept": "text/event-stream"})
        resp = conn.getresponse()
        assert resp.status == 200, resp.status
        assert resp.getheader("content-type", "").startswith("text/event-stream")
        out: list[tuple[str, dict]] = []
        kind, data = "", ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = resp.fp.readline().decode("utf-8")
            if not line:
                break
            line = line.rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and kind:
                out.append((kind, json.loads(data)))
                if kind == "end":
                    break
                kind, data = "", ""
        conn.close()
        return out


# -- against the lab ---------------------------------------------------------------------------------
TIMEOUT = "3"  # --timeout of the lab runs, seconds (short, as every test)


def lab_args(lab, *extra: str) -> tuple[str, ...]:
    return ("--timeout", TIMEOUT, "--ca-file", str(lab.ca_file), *extra)


def cli_report(lab, domain: str) -> dict:
    proc = subprocess.run([MAILDOCTOR, "check", domain, "--nameserver", lab.resolver, "--format", "json",
                           *lab_args(lab)], capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert proc.returncode in (0, 1, 2, 3), proc.stderr
    return json.loads(proc.stdout)


def outcome(report: dict) -> tuple:
    """What must be the same from the CLI and the web: every finding's check, code, status and
    subject (not its timings), and the verdict."""
    return (report["verdict"], sorted((f["check"], f["code"], f["status"], f["subject"]) for f in report["findings"]))
