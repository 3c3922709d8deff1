"""A tiny static HTTPS server for the lab: MTA-STS policies and autoconfig files.

One address, port 443, one certificate whose names cover every virtual host; files live in
``ROOT/<host>/<path>``. It is only a static file server, so the standard library is enough:

    python -m tests.lab.webserver --listen 127.77.0.55 --root DIR --cert CHAIN --key KEY --pidfile P
"""

from __future__ import annotations

import argparse
import http.server
import os
import ssl
import sys
from pathlib import Path

COMM = "mdlab-web"
TYPES = {".txt": "text/plain", ".xml": "application/xml"}


def write_web(base: Path, plan, ca) -> dict:
    """Write the files of every Scenario.web and a certificate for all their host names; return
    process facts like the other servers (argv, pidfile, comm, listen)."""
    base.mkdir(parents=True, exist_ok=True)
    sites = plan.web_files()
    for host, files in sites.items():
        for path, text in files.items():
            target = base / "www" / host / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    web = plan.hosts["web"]
    cert = ca.issue("web", [web.fqdn, *sorted(sites)])
    return {
        "argv": [sys.executable, str(Path(__file__).resolve()), "--daemon", "--listen", web.addr,
                 "--root", str(base / "www"), "--cert", cert["chain"], "--key", cert["key"],
                 "--pidfile", str(base / "web.pid")],
        "pidfile": str(base / "web.pid"),
        "comm": COMM,
        "log": None,
        "listen": {"web": web.ports},
        "sites": {host: sorted(files) for host, files in sites.items()},
    }


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "maildoctor-lab"
    timeout = 5  # seconds per connection: a silent client cannot hold a thread for long
    root: Path = Path(".")

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        host = (self.headers.get("Host") or "").split(":")[0].lower().rstrip(".")
        path = self.path.split("?")[0]
        if not host or "/.." in path or host.startswith("."):
            return self._send(400, "text/plain", b"bad request\n")
        file = self.root / host / path.lstrip("/")
        if not file.is_file():
            return self._send(404, "text/plain", b"not found\n")
        self._send(200, TYPES.get(file.suffix, "application/octet-stream"), file.read_bytes())

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args) -> None:
        sys.stderr.write(
            f"{self.address_string()} {self.headers.get('Host', '-') if self.headers else '-'} {fmt % args}\n"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--root", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--pidfile")
    ap.add_argument("--daemon", action="store_true", help="detach once listening (the parent exits 0)")
    args = ap.parse_args(argv)
    Handler.root = Path(args.root)
    server = http.server.ThreadingHTTPServer((args.listen, args.port), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    # the handshake runs in the handler thread, so a client that never says hello blocks nobody
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    server.timeout = 5
    if args.daemon and os.fork() > 0:  # bound and listening: errors above reached the launcher
        os._exit(0)
    if args.daemon:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
    try:
        Path("/proc/self/comm").write_text(COMM)  # so the lab stops this process by its name
    except OSError:
        pass
    if args.pidfile:
        Path(args.pidfile).write_text(f"{os.getpid()}\n")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
