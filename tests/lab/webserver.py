"""A tiny static HTTPS server for the lab: MTA-STS policies and autoconfig files; and the lab CA's
plain-HTTP side: its CRLs and intermediate (host ``ca``, port 80) and OCSP (host ``ocsp``, port 80).

One address, port 443, one certificate whose names cover every virtual host; files live in
``ROOT/<host>/<path>``. It is only a static file server, so the standard library is enough:

    python -m tests.lab.webserver --listen 127.77.0.55 --root DIR --cert CHAIN --key KEY --pidfile P \
        [--http ADDR] [--ocsp ADDR --ocsp-index INDEX --ocsp-ca PEM --ocsp-key KEY]

OCSP answers come from Debian's ``openssl ocsp`` responder itself, one run per request
(``-index ... -reqin REQ -respout RESP``): OpenSSL 3.0's ``openssl ocsp -port`` binds every
address, which the lab must not do, so only its HTTP front is Python.
"""

from __future__ import annotations

import argparse
import base64
import http.server
import os
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import unquote

COMM = "mdlab-web"
TYPES = {".txt": "text/plain", ".xml": "application/xml", ".svg": "image/svg+xml", ".pem": "application/x-pem-file"}


def write_web(base: Path, plan, ca) -> dict:
    """Write the files of every Scenario.web and a certificate for all their host names; return
    process facts like the other servers (argv, pidfile, comm, listen)."""
    from tests.lab.scenarios import MARK_CERTIFICATE  # here: this file also runs as a script (the server)

    base.mkdir(parents=True, exist_ok=True)
    sites = plan.web_files()
    for host, files in sites.items():
        for path, text in files.items():
            target = base / "www" / host / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if text == MARK_CERTIFICATE:  # a BIMI mark certificate minted here: the site's domain and logo
                target.write_bytes(ca.issue_mark(host.partition(".")[2], files.get("/logo.svg", "").encode()))
            else:
                target.write_text(text)
    web, ca_host, ocsp_host = plan.hosts["web"], plan.hosts["capub"], plan.hosts["ocsp"]
    cert = ca.issue("web", [web.fqdn, *sorted(sites)])
    ca.write_revocation(base / "www" / ca_host.fqdn)  # after the last certificate was issued
    return {
        "argv": [sys.executable, str(Path(__file__).resolve()), "--daemon", "--listen", web.addr,
                 "--root", str(base / "www"), "--cert", cert["chain"], "--key", cert["key"],
                 "--pidfile", str(base / "web.pid"), "--http", ca_host.addr, "--ocsp", ocsp_host.addr,
                 "--ocsp-index", str(ca.index_file), "--ocsp-ca", str(ca.dir / "intermediate.pem"),
                 "--ocsp-key", str(ca.dir / "intermediate.key"), "--ocsp-root-index", str(ca.root_index_file),
                 "--ocsp-root-ca", str(ca.ca_file), "--ocsp-root-key", str(ca.dir / "ca.key"),
                 "--redirect-listen", web.addr,
                 *(f"--redirect={path}={url}" for path, url in plan.web_redirects().items())],
        "pidfile": str(base / "web.pid"),
        "comm": COMM,
        "log": None,
        "listen": {"web": web.ports, "capub": ca_host.ports, "ocsp": ocsp_host.ports},
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

    def do_POST(self) -> None:  # noqa: N802
        """Microsoft Autodiscover (POX): a POSTed <Autodiscover><Request> is answered with the file at the
        path, its %EMAILADDRESS% replaced by the request's address; anything else as Exchange would."""
        host = (self.headers.get("Host") or "").split(":")[0].lower().rstrip(".")
        length = self.headers.get("Content-Length", "")
        body = self.rfile.read(min(int(length), 65536)) if length.isdigit() else b""
        file = self.root / host / self.path.split("?")[0].lstrip("/")
        if not host or "/.." in self.path or not file.is_file() or not self.path.lower().startswith("/autodiscover/"):
            return self._send(404, "text/plain", b"not found\n")
        m = re.search(rb"<EMailAddress>([^<]{1,254})</EMailAddress>", body)
        if m is None or b"requestschema/2006" not in body:
            return self._send(400, "text/plain", b"not an Autodiscover request\n")
        answer = file.read_bytes().replace(b"%EMAILADDRESS%", m.group(1)) \
            .replace(b"%EMAILDOMAIN%", m.group(1).rpartition(b"@")[2])
        self._send(200, "text/xml; charset=utf-8", answer)

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


class RedirectHandler(Handler):
    """Plain HTTP that only redirects (Microsoft's autodiscover.outlook.com on port 80 sends every
    Autodiscover GET to its https URL, whatever the Host: the "HTTP redirect method")."""

    server_version = "maildoctor-lab-redirect"
    redirects: dict[str, str] = {}  # path -> https URL

    def do_GET(self) -> None:  # noqa: N802
        target = self.redirects.get(self.path.split("?")[0].lower())
        if target is None:
            return self._send(404, "text/plain", b"not found\n")
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()


class OcspHandler(Handler):
    """RFC 6960 appendix A over HTTP: GET /<base64 request> or POST of the DER request; under /root/ the
    same for the root CA's own responder (about the intermediates)."""

    server_version = "maildoctor-lab-ocsp"
    timeout = 5
    args: list[str] = []  # openssl ocsp -index ... -CA ... -rsigner ... -rkey ...
    root_args: list[str] = []  # the same for the root CA (empty: /root/ is answered like /)

    def _responder(self) -> tuple[list[str], str]:
        """The responder's openssl arguments and the path after its prefix."""
        if self.root_args and self.path.startswith("/root/"):
            return self.root_args, self.path[len("/root/"):]
        return self.args, self.path.lstrip("/")

    def do_GET(self) -> None:  # noqa: N802
        args, rest = self._responder()
        try:
            request = base64.b64decode(unquote(rest), validate=False)
        except ValueError:
            request = b""
        self._answer(args, request)

    def do_POST(self) -> None:  # noqa: N802
        length = self.headers.get("Content-Length", "0")
        self._answer(self._responder()[0], self.rfile.read(min(int(length), 65536)) if length.isdigit() else b"")

    def _answer(self, args: list[str], request: bytes) -> None:
        body = _signed_answers.get(args, request)
        if body is None:
            stamp = _signed_answers.index_stamp(args)  # before openssl reads the index
            with tempfile.TemporaryDirectory() as tmp:
                req, resp = Path(tmp) / "req.der", Path(tmp) / "resp.der"
                req.write_bytes(request)
                run = subprocess.run(["openssl", "ocsp", *args, "-reqin", str(req), "-respout", str(resp),
                                      "-nmin", "60"], capture_output=True, timeout=10)
                body = resp.read_bytes() if run.returncode == 0 and resp.exists() else b""
            if body:
                _signed_answers.put(args, request, body, stamp)
        if not body:
            return self._send(400, "text/plain", b"bad OCSP request\n")
        self._send(200, "application/ocsp-response", body)

    def log_message(self, fmt: str, *args) -> None:
        sys.stderr.write(f"ocsp {self.address_string()} {fmt % args}\n")


class SignedAnswers:
    """OCSP answers kept as CAs publish theirs (signed ahead, served from a cache): one ``openssl ocsp`` run
    (~10 ms of CPU, on the same two cores as the client being measured) per distinct request, then the same
    bytes for up to ``max_age_s`` while the CA's index file is unchanged (a revocation changes it). The
    key is the whole request, so a request with a nonce is never answered with another's."""

    def __init__(self, max_age_s: float = 60.0, size: int = 4096) -> None:
        self.max_age_s, self.size = max_age_s, size
        self._kept: dict[tuple[tuple[str, ...], bytes], tuple[int, float, bytes]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def index_stamp(args: list[str]) -> int:
        try:
            return os.stat(args[args.index("-index") + 1]).st_mtime_ns
        except (ValueError, IndexError, OSError):
            return -1

    def get(self, args: list[str], request: bytes) -> bytes | None:
        with self._lock:
            kept = self._kept.get((tuple(args), request))
        if kept is None:
            return None
        stamp, at, body = kept
        fresh = stamp != -1 and stamp == self.index_stamp(args) and time.monotonic() - at < self.max_age_s
        return body if fresh else None

    def put(self, args: list[str], request: bytes, body: bytes, stamp: int) -> None:
        with self._lock:
            if len(self._kept) >= self.size:
                self._kept.pop(next(iter(self._kept)))  # the oldest
            self._kept[(tuple(args), request)] = (stamp, time.monotonic(), body)


_signed_answers = SignedAnswers()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--root", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--pidfile")
    ap.add_argument("--daemon", action="store_true", help="detach once listening (the parent exits 0)")
    ap.add_argument("--http", help="also serve ROOT over plain HTTP on this address, port 80 (the lab CA's files)")
    ap.add_argument("--ocsp", help="answer OCSP on this address, port 80, with openssl ocsp")
    ap.add_argument("--ocsp-index")
    ap.add_argument("--ocsp-ca")
    ap.add_argument("--ocsp-key")
    ap.add_argument("--ocsp-root-index", help="with --ocsp-root-ca, --ocsp-root-key: answer OCSP under /root/ "
                                              "for the root CA (about its intermediates)")
    ap.add_argument("--ocsp-root-ca")
    ap.add_argument("--ocsp-root-key")
    ap.add_argument("--redirect-listen", help="answer plain HTTP on this address, port 80, with --redirect rules")
    ap.add_argument("--redirect", action="append", default=[], help="PATH=URL: a GET of PATH is sent to URL (302)")
    args = ap.parse_args(argv)
    RedirectHandler.redirects = dict(r.split("=", 1) for r in args.redirect)
    Handler.root = Path(args.root)
    OcspHandler.args = ["-index", str(args.ocsp_index), "-CA", str(args.ocsp_ca), "-rsigner", str(args.ocsp_ca),
                        "-rkey", str(args.ocsp_key)]
    if args.ocsp_root_index:
        OcspHandler.root_args = ["-index", args.ocsp_root_index, "-CA", args.ocsp_root_ca, "-rsigner",
                                 args.ocsp_root_ca, "-rkey", args.ocsp_root_key]
    server = http.server.ThreadingHTTPServer((args.listen, args.port), Handler)
    server.timeout = 5
    plain = [http.server.ThreadingHTTPServer((a, 80), h) for a, h in ((args.http, Handler), (args.ocsp, OcspHandler),
                                                                     (args.redirect_listen, RedirectHandler))
             if a]  # bound before the fork, so a busy address fails the launch
    return serve_tls(server, plain, cert=args.cert, key=args.key, daemon=args.daemon, pidfile=args.pidfile, comm=COMM)


def serve_tls(server: http.server.ThreadingHTTPServer, plain: list[http.server.ThreadingHTTPServer], *, cert: str,
              key: str, daemon: bool, pidfile: str | None, comm: str) -> int:
    """Serve ``server`` over TLS and each of ``plain`` as it is, detached (``daemon``) once all are bound:
    the lab's HTTPS hosts (web, idp) start and stop alike; ``comm`` names the process for ``stop``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    # the handshake runs in the handler thread, so a client that never says hello blocks nobody
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    if daemon and os.fork() > 0:  # bound and listening: errors above reached the launcher
        os._exit(0)
    if daemon:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
    try:
        Path("/proc/self/comm").write_text(comm)  # so the lab stops this process by its name
    except OSError:
        pass
    server.daemon_threads = True
    for extra in plain:
        extra.daemon_threads = True
        threading.Thread(target=extra.serve_forever, daemon=True).start()
    if pidfile:
        Path(pidfile).write_text(f"{os.getpid()}\n")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
