"""The Lab: starts, describes and stops one local mail test lab."""

from __future__ import annotations

import errno
import json
import os
import random
import secrets
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path

from tests.lab import firewall
from tests.lab.authserver import write_authserver
from tests.lab.dkimsigner import make_key, write_opendkim
from tests.lab.dnsservers import write_knot, write_unbound
from tests.lab.mailservers import (
    register_config_dir,
    unregister_config_dir,
    write_dovecot,
    write_postfix,
)
from tests.lab.pki import CertAuthority
from tests.lab.procs import LabError, alive, comm, processes_mentioning, read_pid, stop_tree, tcp_open, wait_for
from tests.lab.scenarios import MAIL_DOMAIN_SCENARIO, MAIL_USER
from tests.lab.webserver import write_web
from tests.lab.zones import DEFAULT_NET, DEFAULT_TLD, Plan

STATE_FILE = "lab.json"
INSTALL_HINT = "run `sudo tests/lab/install.sh` (Debian 12) to install the lab's servers"
REQUIRED_BINARIES = (
    "/usr/sbin/knotd",
    "/usr/sbin/unbound",
    "/usr/sbin/postfix",
    "/usr/lib/postfix/sbin/master",
    "/usr/sbin/dovecot",
    "/usr/lib/dovecot/imap",
    "/usr/lib/dovecot/pop3",
    "/usr/lib/dovecot/lmtp",
    "/usr/sbin/opendkim",
)
# Unix socket paths are limited to 108 bytes; Dovecot puts sockets a few
# levels below DIR/dovecot/run.
MAX_WORKDIR_LEN = 60
START_ORDER = ("knot", "unbound", "oauth", "dovecot", "opendkim", "postfix", "web")
GENERATED = ("certs", "knot", "unbound", "dovecot", "postfix", "oauth", "opendkim")  # subdirs of DIR the lab owns


class LabNotInstalled(LabError):
    pass


def missing_binaries() -> list[str]:
    return [b for b in REQUIRED_BINARIES if not os.access(b, os.X_OK)]


def check_installed() -> None:
    missing = missing_binaries()
    if missing:
        raise LabNotInstalled(f"lab servers not installed (missing {', '.join(missing)}): {INSTALL_HINT}")
    if os.geteuid() != 0:
        raise LabError("the lab must run as root (it binds port 25/53 and runs mail servers)")


def dns_probe(addr: str, qname: str, qtype: int = 6, timeout: float = 0.5) -> int | None:
    """Send one UDP query; return the response's RCODE, or None on no answer."""
    qid = random.getrandbits(16)
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in qname.strip(".").split("."):
        packet += bytes([len(label)]) + label.encode()
    packet += b"\0" + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(packet, (addr, 53))
            data, _ = s.recvfrom(4096)
        except OSError:
            return None
    if len(data) < 12 or struct.unpack(">H", data[:2])[0] != qid:
        return None
    return data[3] & 0x0F


def _port_free(addr: str, port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((addr, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _tail(path: str | None, lines: int = 15) -> str:
    if not path:
        return ""
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


class Lab:
    """A running (or stopped) lab, described by DIR/lab.json."""

    def __init__(self, workdir: Path, state: dict):
        self.workdir = Path(workdir)
        self.state = state

    # -- construction --------------------------------------------------------
    @classmethod
    def load(cls, workdir: Path | str) -> Lab:
        workdir = Path(workdir).resolve()
        path = workdir / STATE_FILE
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            raise LabError(f"no lab in {workdir} (no {STATE_FILE})") from None
        return cls(workdir, state)

    @classmethod
    def start(cls, workdir: Path | str, net: str = DEFAULT_NET, tld: str = DEFAULT_TLD,
              timeout: float = 30.0) -> Lab:
        """Start a lab in workdir and return when every server answers.

        If workdir already holds a running lab with the same net and tld it is
        returned as is; a stale or different one is stopped first."""
        t0 = time.monotonic()
        check_installed()
        workdir = Path(workdir).resolve()
        plan = Plan(net, tld)
        if (workdir / STATE_FILE).exists():
            old = cls.load(workdir)
            if old.running() and old.state.get("net") == plan.net and old.state.get("tld") == plan.tld:
                return old
            old.stop()
        cls._prepare_workdir(workdir)
        cls._check_addresses_free(plan)

        lab = cls(workdir, {"state": "starting", "net": plan.net, "tld": plan.tld,
                            "workdir": str(workdir)})
        try:
            lab._build_and_run(plan, timeout)
        except BaseException as e:
            detail = lab._failure_detail()
            try:
                lab.stop()
            except Exception:
                pass
            if isinstance(e, LabError):
                raise LabError(f"{e}\n{detail}".rstrip()) from None
            raise
        lab.state["start_seconds"] = round(time.monotonic() - t0, 2)
        lab._save()
        return lab

    @staticmethod
    def _prepare_workdir(workdir: Path) -> None:
        if len(str(workdir)) > MAX_WORKDIR_LEN:
            raise LabError(f"lab dir path too long ({len(str(workdir))} > {MAX_WORKDIR_LEN} chars, "
                           f"unix socket paths would overflow): {workdir}")
        workdir.mkdir(parents=True, exist_ok=True)
        # postfix, dovecot and mail users must reach their files below it
        os.chmod(workdir, 0o755)
        for parent in workdir.parents:
            if not os.stat(parent).st_mode & 0o001:
                raise LabError(f"{parent} is not searchable by other users (mode "
                               f"{oct(os.stat(parent).st_mode & 0o777)}); the mail servers' "
                               f"unprivileged processes could not reach {workdir}. "
                               f"Use a directory like /tmp/mdlab-XXXX.")

    @staticmethod
    def _check_addresses_free(plan: Plan) -> None:
        busy = []
        for h in plan.hosts.values():
            # a host with no services must stay silent too (refused scenarios)
            ports = h.ports or {"smtp": 25}
            for _svc, port in ports.items():
                if not _port_free(h.addr, port, socket.SOCK_STREAM):
                    busy.append(f"{h.addr}:{port}/tcp")
                if port == 53 and not _port_free(h.addr, port, socket.SOCK_DGRAM):
                    busy.append(f"{h.addr}:{port}/udp")
        if busy:
            raise LabError(f"addresses of net {plan.net} already in use ({', '.join(busy[:4])}"
                           f"{' ...' if len(busy) > 4 else ''}): another lab with the same net, "
                           f"or a server bound to a wildcard address? Pick another --net "
                           f"(MAILDOCTOR_LAB_NET for pytest).")

    def _build_and_run(self, plan: Plan, timeout: float) -> None:
        w = self.workdir
        # every start is fresh: no old queue, mail, logs or keys
        for sub in GENERATED:
            if (w / sub).is_dir():
                shutil.rmtree(w / sub)
        for old in w.glob("launch-*.log"):
            old.unlink()
        dkim_key = make_key(w / "opendkim", plan)  # its public half goes into the zone: before plan.zones()
        zones = plan.zones()
        ca_host, ocsp_host = plan.hosts["capub"].fqdn, plan.hosts["ocsp"].fqdn
        ca = CertAuthority(w / "certs", plan.net, urls={
            "crl": f"http://{ca_host}/intermediate.crl", "stale_crl": f"http://{ca_host}/stale.crl",
            "issuer": f"http://{ca_host}/intermediate.der", "ocsp": f"http://{ocsp_host}/",
            "ocsp_down": f"http://{plan.hosts['refused'].fqdn}/",
            "root_crl": f"http://{ca_host}/root.crl", "root_issuer": f"http://{ca_host}/root.der",
            "crl2": f"http://{ca_host}/intermediate2.crl", "issuer2": f"http://{ca_host}/intermediate2.der",
            "root_ocsp": f"http://{ocsp_host}/root/"})
        certs = {key: ca.issue(key, [h.fqdn, *h.sans], variant=h.tls) for key, h in plan.hosts.items()}
        password = secrets.token_urlsafe(18)

        procs = {}
        procs["knot"] = write_knot(w / "knot", plan, zones)
        procs["unbound"] = write_unbound(w / "unbound", plan, zones)
        procs["web"] = write_web(w / "web", plan, ca)
        procs["oauth"] = write_authserver(w / "oauth", plan, ca)
        procs["dovecot"] = write_dovecot(w / "dovecot", plan, certs, password, procs["oauth"])
        procs["opendkim"] = write_opendkim(w / "opendkim", plan, dkim_key, w / "unbound" / "trust-anchor")
        procs["postfix"] = write_postfix(w / "postfix", plan, certs, procs["dovecot"], procs["opendkim"],
                                         str(ca.ca_file))
        domain = plan.domain(MAIL_DOMAIN_SCENARIO)

        self.state.update({
            "version": 1,
            "net": plan.net,
            "tld": plan.tld,
            "resolver": plan.addr("resolver"),
            "authoritative": plan.addr("ns"),
            "ca_file": str(ca.ca_file),
            "reverse_zone": plan.reverse_origin,
            "zones": [z.origin for z in zones],
            "hosts": {k: {"fqdn": h.fqdn, "addr": h.addr, "ports": h.ports,
                          "firewall": h.firewall, "note": h.note, "cert": certs[k]}
                      for k, h in plan.hosts.items()},
            "scenarios": plan.scenario_facts(),
            "mail": {"user": f"{MAIL_USER}@{domain}", "password": password, "domain": domain,
                     "dkim_selector": procs["opendkim"]["selector"],
                     "accounts": procs["dovecot"]["accounts"]},
            "processes": procs,
            "oauth": {k: v for k, v in procs["oauth"].items()
                      if k in ("issuer", "client_id", "device_authorization_endpoint", "authorization_endpoint",
                               "token_endpoint", "admin")},
            "firewall": {"chain": plan.chain_name(), "available": None, "error": None},
            "postfix_confdir": procs["postfix"]["confdir"],
        })
        self._save()

        register_config_dir(procs["postfix"]["confdir"])
        deadline = time.monotonic() + timeout
        # the four servers start independently; launch them side by side
        launched = {}
        for name in START_ORDER:
            p = procs[name]
            # output to a file, not a pipe: the daemons inherit it and keep it open
            p["launch_log"] = str(w / f"launch-{name}.log")
            with open(p["launch_log"], "wb") as out:
                launched[name] = subprocess.Popen(p["argv"], stdin=subprocess.DEVNULL, stdout=out,
                                                  stderr=subprocess.STDOUT, start_new_session=True)
        for name, popen in launched.items():
            try:
                popen.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
                raise LabError(f"{name}: launcher did not return: {' '.join(procs[name]['argv'])}") from None
            if popen.returncode != 0:
                raise LabError(f"{name} failed to start (exit {popen.returncode}): "
                               f"{_tail(procs[name]['launch_log'])}")

        fw = firewall.install(plan.chain_name(), [h.addr for h in plan.hosts.values()
                                                  if h.firewall == "drop"])
        self.state["firewall"] = fw

        def remaining() -> float:
            return max(0.5, deadline - time.monotonic())

        for name in START_ORDER:
            p = procs[name]
            wait_for(f"{name} pid file {p['pidfile']}",
                     lambda p=p: alive(read_pid(p["pidfile"])), remaining())
            p["pid"] = read_pid(p["pidfile"])
        self._save()

        ns, res = plan.addr("ns"), plan.addr("resolver")
        wait_for(f"knot answering on {ns}", lambda: dns_probe(ns, plan.tld) == 0, remaining())
        healthy = plan.domain("healthy")
        wait_for(f"unbound resolving via {res}", lambda: dns_probe(res, healthy, 15) == 0, remaining())
        for name in ("oauth", "dovecot", "postfix", "web"):
            for key, ports in procs[name]["listen"].items():
                addr = plan.addr(key)
                for port in ports.values():
                    wait_for(f"{name} on {addr}:{port}",
                             lambda a=addr, po=port: tcp_open(a, po), remaining())
        wait_for("dovecot auth socket", lambda: os.path.exists(procs["dovecot"]["auth_socket"]),
                 remaining())
        wait_for("opendkim milter socket", lambda: os.path.exists(procs["opendkim"]["socket"]), remaining())
        self.state["state"] = "running"
        self.state["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self._save()

    def _failure_detail(self) -> str:
        out = []
        for name, p in self.state.get("processes", {}).items():
            t = _tail(p.get("log"), 8)
            if t:
                out.append(f"--- {name} log ({p.get('log')}) ---\n{t}")
        return "\n".join(out)

    def _save(self) -> None:
        path = self.workdir / STATE_FILE
        tmp = path.with_suffix(".json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.state, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)

    # -- facts ---------------------------------------------------------------
    @property
    def net(self) -> str:
        return self.state["net"]

    @property
    def tld(self) -> str:
        return self.state["tld"]

    @property
    def resolver(self) -> str:
        return self.state["resolver"]

    @property
    def authoritative(self) -> str:
        return self.state["authoritative"]

    @property
    def ca_file(self) -> Path:
        return Path(self.state["ca_file"])

    @property
    def scenarios(self) -> dict[str, dict]:
        return self.state["scenarios"]

    @property
    def hosts(self) -> dict[str, dict]:
        return self.state["hosts"]

    @property
    def user(self) -> str:
        return self.state["mail"]["user"]

    def account(self, name: str) -> str:
        """Address of a lab mailbox (scenarios.MAIL_ACCOUNTS: "user", "locked", "dropped")."""
        return self.state["mail"]["accounts"][name]

    @property
    def dkim_selector(self) -> str:
        """The selector OpenDKIM signs the healthy domain's submitted mail with (a key made per lab)."""
        return self.state["mail"]["dkim_selector"]

    @property
    def dkim_key(self) -> Path:
        """The private key of that selector (PEM), e.g. to ARC-seal a message as the lab's domain."""
        return Path(self.state["processes"]["opendkim"]["key"])

    @property
    def password(self) -> str:
        return self.state["mail"]["password"]

    @property
    def oauth(self) -> dict:
        """The lab's authorization server (authserver.py): issuer, client_id, the endpoints, admin URL."""
        return self.state["oauth"]

    def oauth_admin(self, path: str, **form: str | int) -> dict:
        """POST to the authorization server's lab side: ``mint`` (user, expires_in) a token pair without a
        login, ``revoke`` (token), ``device`` (user_code, user: approve as the user; deny=1 refuses)."""
        import json
        import urllib.parse
        import urllib.request

        data = urllib.parse.urlencode({k: str(v) for k, v in form.items()}).encode()
        # the admin URL is an address on loopback: no name lookup, no proxy
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        route = "device" if path == "device" else f"lab/{path}"
        with opener.open(f"{self.oauth['admin']}/{route}", data, timeout=5) as resp:
            return json.loads(resp.read())

    @property
    def firewall_available(self) -> bool:
        return bool(self.state.get("firewall", {}).get("available"))

    def domain(self, name: str) -> str:
        """fqdn (no trailing dot) of a scenario domain, served or not."""
        return f"{name}.{self.tld}"

    def host(self, name: str) -> str:
        """Address of a named host (see scenarios.HOSTS)."""
        return self.hosts[name]["addr"]

    def hostname(self, name: str) -> str:
        """fqdn of a named host."""
        return self.hosts[name]["fqdn"]

    # -- lifecycle -------------------------------------------------------------
    def _pids(self, name: str) -> list[int]:
        p = self.state.get("processes", {}).get(name, {})
        pids = []
        if p.get("pidfile"):
            pids.append(read_pid(p["pidfile"]))
        pids.append(p.get("pid"))
        return [x for x in dict.fromkeys(pids) if x]

    def running(self) -> bool:
        procs = self.state.get("processes", {})
        if self.state.get("state") != "running" or not procs:
            return False
        for name, p in procs.items():
            pids = self._pids(name)
            if not any(alive(pid) and comm(pid) == p["comm"] for pid in pids):
                return False
        return True

    def status(self) -> dict:
        procs = {}
        for name, p in self.state.get("processes", {}).items():
            pids = [pid for pid in self._pids(name) if alive(pid) and comm(pid) == p["comm"]]
            procs[name] = {"pid": pids[0] if pids else None, "alive": bool(pids)}
        fw = dict(self.state.get("firewall", {}))
        if fw.get("available"):
            fw["active"] = firewall.active(fw["chain"])
        return {"state": self.state.get("state"), "running": self.running(), "processes": procs,
                "firewall": fw, "net": self.state.get("net"), "tld": self.state.get("tld"),
                "resolver": self.state.get("resolver"), "workdir": str(self.workdir)}

    def stop(self) -> list[int]:
        """Stop everything this lab started; idempotent. Returns pids that
        could not be stopped (empty when all is clean)."""
        survivors: list[int] = []
        procs = self.state.get("processes", {})
        for name in reversed(START_ORDER):
            p = procs.get(name)
            if not p:
                continue
            for pid in self._pids(name):
                if alive(pid) and comm(pid) == p["comm"]:
                    survivors += stop_tree(pid, p["comm"])
        chain = self.state.get("firewall", {}).get("chain")
        if chain:
            firewall.remove(chain)
        confdir = self.state.get("postfix_confdir")
        # stragglers: anything still running from this lab's directory
        env = f"MAIL_CONFIG={confdir}" if confdir else None
        for pid in processes_mentioning(str(self.workdir) + "/", env):
            survivors += stop_tree(pid, comm(pid), timeout=3)
        if confdir:
            unregister_config_dir(confdir)
        if self.state.get("state") not in (None, "stopped"):
            self.state["state"] = "stopped"
            if (self.workdir / STATE_FILE).exists() or procs:
                self._save()
        survivors = sorted(set(p for p in survivors if alive(p)))
        if survivors:
            raise LabError(f"could not stop pids {survivors}")
        return survivors

    def summary(self) -> str:
        lines = [
            f"maildoctor lab in {self.workdir}  (net {self.net}, tld {self.tld})",
            f"  resolver      {self.resolver}   (use: maildoctor check --nameserver {self.resolver})",
            f"  authoritative {self.authoritative}",
            f"  CA file       {self.ca_file}",
            f"  mail user     {self.user}  (password in {self.workdir / STATE_FILE})",
        ]
        fw = self.state.get("firewall", {})
        if fw.get("available") is False:
            lines.append(f"  WARNING: iptables unavailable ({fw.get('error')}): "
                         f"the 'filtered' scenario behaves like 'refused'")
        if "start_seconds" in self.state:
            lines.append(f"  started in    {self.state['start_seconds']} s")
        lines.append("  hosts:")
        for k, h in self.hosts.items():
            ports = ",".join(str(p) for p in h["ports"].values()) or "-"
            lines.append(f"    {k:9} {h['addr']:15} {h['fqdn']:28} ports {ports}")
        lines.append("  scenarios:")
        for _name, s in self.scenarios.items():
            lines.append(f"    {s['domain']:22} {s['expected']}")
        return "\n".join(lines)
