"""The bounce lab: real MTAs that make real bounces (delivery status notifications) on loopback.

Private instances on the lab's net, third octet 16 (``127.A.16.x``, apart from the lab's hosts on
``127.A.0.x``), every route static to a lab address (no DNS, nothing leaves the lab):

| addr | server | role |
|---|---|---|
| .10 | Dovecot, LMTP on TCP 24 | the sink: ``sender@origin.<tld>`` (where every bounce lands, Maildir), ``full@sink.<tld>`` (quota 1 KB: "552 5.2.2 Quota exceeded"); others do not exist |
| .11 | Postfix "strict", SMTP 25 | the refusing receiver: unknown users (550 5.1.1), relaying (554 5.7.1), messages over 20 KB (552 5.3.4), ``policy@strict.<tld>`` (550 5.7.1 by a configured access rule), ``dmarc@strict.<tld>`` (550 5.7.26, a DMARC refusal in Gmail's words, by the same kind of rule) |
| .12 | Postfix, SMTP 25 | a sending MTA (maximal_queue_lifetime 0: one try, then the bounce) |
| .13 | Exim (Debian's exim4-daemon-light, unpacked), SMTP 25 | a sending MTA (no retry rules: a temporary error is final) |
| .14 | OpenSMTPD (Debian's opensmtpd, unpacked), SMTP 25 | a sending MTA (``queue ttl`` 1 s), in its own mount namespace (its queue and control socket are compiled-in paths) |
| .19 | nothing | ``down.<tld>``: connection refused, so the senders' queue lifetime expires; ``slow.<tld>`` goes there too, and Exim retries it and sends a delay warning |

The sending MTAs route ``origin`` and ``sink`` to the sink's LMTP, ``strict`` and ``elsewhere`` to the
strict Postfix, ``down`` to .19. Dovecot's own rejection (the fourth MTA) needs no daemon:
``dovecot-lda`` delivering to the full mailbox returns the message itself through the Postfix sender.

Why not Sendmail as the fourth: Debian's sendmail needs an m4-built sendmail.cf and hashed maps, and on
start it canonicalises its host name through the machine's resolver (seen with strace: a query to the
host's own DNS server before any configuration could stop it), which the lab must never do.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab.mailservers import DOVECOT, MASTER_CF_BASE, POSTFIX, register_config_dir, unregister_config_dir
from tests.lab.procs import LabError, read_pid, stop_tree, tcp_open, wait_for

EXTRA = Path("/opt/maildoctor-lab")  # tests/lab/install.sh unpacks Exim and OpenSMTPD here
EXIM = EXTRA / "exim" / "usr" / "sbin" / "exim4"
SMTPD = EXTRA / "opensmtpd" / "usr" / "sbin" / "smtpd"
DOVECOT_LDA = "/usr/lib/dovecot/dovecot-lda"
OCTET = 16
ADDRS = {"sink": 10, "strict": 11, "postfix": 12, "exim": 13, "opensmtpd": 14, "down": 19}
SENDERS = ("postfix", "exim", "opensmtpd")
LISTENERS = {"sink": 24, "strict": 25, "postfix": 25, "exim": 25, "opensmtpd": 25}  # server -> port
SIZE_LIMIT = 20_000  # bytes the strict receiver takes
START_TIMEOUT = 15.0  # seconds for every server to answer


@dataclass
class BounceLab:
    """A running bounce lab (see the module docstring); ``stop()`` ends every server it started."""

    workdir: Path
    net: str
    tld: str
    resolver: str  # the lab's resolver: the only DNS server the namespaced MTAs are given
    pids: dict[str, tuple[int, str]] = field(default_factory=dict)  # name -> (pid, comm)
    confdirs: list[str] = field(default_factory=list)

    def addr(self, name: str) -> str:
        return f"{self.net}.{OCTET}.{ADDRS[name]}"

    def domain(self, label: str) -> str:
        return f"{label}.{self.tld}"

    @property
    def sender(self) -> str:
        return f"sender@{self.domain('origin')}"

    @property
    def maildir(self) -> Path:
        return self.workdir / "sink" / "mail" / self.domain("origin") / "sender" / "Maildir"

    def bounce_for(self, token: str, timeout: float = 20.0) -> bytes:
        """The message in the sender's mailbox that quotes ``token`` (polled; LabError after ``timeout`` s)."""
        found: list[bytes] = []

        def arrived() -> bool:
            for folder in ("new", "cur"):
                for path in sorted((self.maildir / folder).glob("*")) if (self.maildir / folder).is_dir() else ():
                    data = path.read_bytes()
                    if token.encode() in data:
                        found.append(data)
                        return True
            return False

        wait_for(f"the bounce of {token}", arrived, timeout)
        return found[0]

    # -- start / stop ------------------------------------------------------------------------------

    @classmethod
    def start(cls, workdir: Path, net: str, tld: str, resolver: str) -> BounceLab:
        missing = [str(p) for p in (EXIM, SMTPD, Path(DOVECOT_LDA)) if not p.exists()]
        if missing:
            raise LabError(f"bounce lab: missing {', '.join(missing)}: run tests/lab/install.sh")
        lab = cls(Path(workdir), net, tld, resolver)
        busy = [f"{lab.addr(n)}:{p}" for n, p in LISTENERS.items() if tcp_open(lab.addr(n), p, timeout=0.3)]
        if busy:
            raise LabError(f"bounce lab: {', '.join(busy)} already answer (another bounce lab on net {net}?)")
        lab.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(lab.workdir, 0o755)  # the servers' unprivileged processes walk into it
        # Routes are static, but an MTA may still look up a name (its own, a client's PTR): in its mount
        # namespace /etc/resolv.conf names only the lab's resolver, never this machine's
        (lab.workdir / "resolv.conf").write_text(f"nameserver {resolver}\noptions timeout:1 attempts:1\n")
        try:
            lab._start_sink()
            lab._start_postfix("strict")
            lab._start_postfix("postfix")
            lab._start_exim()
            lab._start_opensmtpd()
            for name, port in LISTENERS.items():
                wait_for(f"{name} on {lab.addr(name)}:{port}", lambda n=name, p=port: tcp_open(lab.addr(n), p),
                         START_TIMEOUT)
        except BaseException:
            lab.stop()
            raise
        return lab

    def stop(self) -> None:
        for pid, comm in reversed(list(self.pids.values())):
            stop_tree(pid, comm)
        self.pids.clear()
        for confdir in self.confdirs:
            unregister_config_dir(confdir)
        self.confdirs.clear()

    def _spawn(self, name: str, argv: list[str], pidfile: Path | None, comm: str) -> None:
        log = open(self.workdir / f"launch-{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        log.close()
        if pidfile is None:  # stays in the foreground: its own pid
            self.pids[name] = (proc.pid, comm)
            return
        try:
            proc.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise LabError(f"{name}: its start command did not return") from None
        if proc.returncode:
            log_text = (self.workdir / f"launch-{name}.log").read_text(errors="replace")[-600:]
            raise LabError(f"{name} did not start (exit {proc.returncode}): {log_text}")
        wait_for(f"{name}'s pid file", lambda: read_pid(pidfile) is not None, START_TIMEOUT)
        self.pids[name] = (read_pid(pidfile) or 0, comm)

    # -- the sink: Dovecot LMTP ---------------------------------------------------------------------

    def _start_sink(self) -> None:
        base = self.workdir / "sink"
        run, mail = base / "run", base / "mail"
        for d in (base, run, base / "state", mail):
            d.mkdir(parents=True, exist_ok=True)
        uid, gid = pwd.getpwnam("mail").pw_uid, grp.getgrnam("mail").gr_gid
        os.chown(mail, uid, gid)
        users = base / "users"
        users.write_text(f"{self.sender}::{uid}:{gid}::{mail}/{self.domain('origin')}/sender::\n"
                         f"full@{self.domain('sink')}::{uid}:{gid}::{mail}/{self.domain('sink')}/full::"
                         "userdb_quota_rule=*:storage=1K\n")
        conf = base / "dovecot.conf"
        conf.write_text("\n".join([
            f"instance_name = mdbounce-{self.net}",
            f"base_dir = {run}", f"state_dir = {base / 'state'}",
            f"log_path = {base / 'dovecot.log'}", f"info_log_path = {base / 'dovecot.log'}",
            "protocols = lmtp", "listen = " + self.addr("sink"), "ssl = no",
            "default_internal_user = dovecot", "default_login_user = dovenull",
            f"first_valid_uid = {uid}", "mail_location = maildir:~/Maildir",
            "mail_plugins = quota", "lda_mailbox_autocreate = yes",
            f"postmaster_address = postmaster@{self.domain('sink')}",
            f"hostname = sink.{self.domain('bounces')}",
            # dovecot-lda's rejections go out through the lab's Postfix sender
            f"submission_host = {self.addr('postfix')}:25",
            "plugin {", "  quota = maildir:User quota", "}",
            "passdb {", "  driver = passwd-file", f"  args = {users}", "}",
            "userdb {", "  driver = passwd-file", f"  args = {users}", "}",
            "service lmtp {", "  inet_listener lmtp {", f"    address = {self.addr('sink')}", "    port = 24",
            "  }", "  unix_listener lmtp {", "    mode = 0600", "  }", "}",
            "service imap-login {", "  inet_listener imap {", "    port = 0", "  }", "}",
            "service pop3-login {", "  inet_listener pop3 {", "    port = 0", "  }", "}",
            "",
        ]))
        self.sink_conf = conf
        self._spawn("sink", [DOVECOT, "-c", str(conf)], run / "master.pid", "dovecot")

    def dovecot_lda(self, recipient: str, message: bytes) -> subprocess.CompletedProcess:
        """Deliver ``message`` with Dovecot's LDA (not LMTP): a refusal is mailed back to the sender."""
        return subprocess.run([DOVECOT_LDA, "-c", str(self.sink_conf), "-d", recipient, "-f", self.sender],
                              input=message, capture_output=True, timeout=30)

    # -- Postfix: the strict receiver and a sender --------------------------------------------------

    def _routes(self) -> dict[str, str]:
        """Domain -> address[:port] of the next hop, for the sending MTAs."""
        lmtp = f"{self.addr('sink')}:24"
        return {self.domain("origin"): lmtp, self.domain("sink"): lmtp, self.domain("strict"): self.addr("strict"),
                self.domain("elsewhere"): self.addr("strict"), self.domain("down"): self.addr("down"),
                self.domain("slow"): self.addr("down")}  # Exim keeps retrying this one and warns

    def _start_postfix(self, name: str) -> None:
        base = self.workdir / name
        conf, queue, data = base / "conf", base / "queue", base / "data"
        for d in (conf, queue, data):
            d.mkdir(parents=True, exist_ok=True)
        pf = pwd.getpwnam("postfix")
        os.chown(data, pf.pw_uid, pf.pw_gid)
        main = {
            "compatibility_level": "3.6", "queue_directory": str(queue), "data_directory": str(data),
            "maillog_file": str(base / "maillog"), "maillog_file_prefixes": str(base),
            "myhostname": f"{name}.{self.domain('bounces')}", "mydomain": self.domain("bounces"),
            "mydestination": "", "relay_domains": "", "inet_interfaces": "loopback-only", "inet_protocols": "ipv4",
            "alias_maps": "", "alias_database": "", "local_recipient_maps": "", "biff": "no",
            "smtpd_peername_lookup": "no", "smtputf8_enable": "no", "smtp_dns_support_level": "disabled",
            "default_transport": "error:the bounce lab does not relay", "relay_transport": "error:no relay",
        }
        if name == "strict":
            users, access = conf / "users", conf / "access"
            users.write_text("".join(f"{name}@{self.domain('strict')} OK\n" for name in ("known", "policy", "dmarc")))
            access.write_text(f"policy@{self.domain('strict')} 550 5.7.1 Recipient refused by the local policy "
                              "of this site: no mail for role accounts from outside\n"
                              # the words of a receiver whose SPF/DKIM/DMARC verdict failed (Gmail's 5.7.26)
                              f"dmarc@{self.domain('strict')} 550 5.7.26 Unauthenticated email from "
                              f"{self.domain('origin')} is not accepted due to its DMARC policy: SPF and DKIM "
                              "both failed\n")
            main |= {"virtual_mailbox_domains": self.domain("strict"), "virtual_mailbox_maps": f"texthash:{users}",
                     "virtual_transport": "discard:accepted by the bounce lab", "mynetworks": "",
                     "smtpd_relay_restrictions": "reject_unauth_destination",
                     "smtpd_recipient_restrictions": f"check_recipient_access texthash:{access}",
                     "message_size_limit": str(SIZE_LIMIT)}
        else:
            transport = conf / "transport"
            transport.write_text("".join(
                f"{domain} {'lmtp:inet' if hop.endswith(':24') else 'smtp'}:[{hop.split(':')[0]}]"
                f"{':24' if hop.endswith(':24') else ''}\n" for domain, hop in self._routes().items()))
            main |= {"mynetworks": "127.0.0.0/8", "smtpd_relay_restrictions": "permit_mynetworks, reject",
                     "transport_maps": f"texthash:{transport}",
                     "maximal_queue_lifetime": "0", "bounce_queue_lifetime": "0",  # one try, then the bounce
                     "smtp_connect_timeout": "5s"}
        (conf / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in main.items()))
        (conf / "master.cf").write_text(MASTER_CF_BASE + f"{self.addr(name)}:25 inet n - n - - smtpd\n")
        register_config_dir(str(conf))
        self.confdirs.append(str(conf))
        self._spawn(name, [POSTFIX, "-c", str(conf), "start"], queue / "pid" / "master.pid", "master")

    # -- Exim ---------------------------------------------------------------------------------------

    def _start_exim(self) -> None:
        base = self.workdir / "exim"
        spool = base / "spool"
        for d in (base, spool, base / "log"):
            d.mkdir(parents=True, exist_ok=True)
            shutil.chown(d, "mail", "mail")
        routes = " ; ".join(f"{domain} {hop.split(':')[0]}" for domain, hop in self._routes().items()
                            if not hop.endswith(":24"))
        lmtp = " : ".join(domain for domain, hop in self._routes().items() if hop.endswith(":24"))
        conf = base / "exim.conf"
        conf.write_text(f"""\
primary_hostname = exim.{self.domain('bounces')}
exim_user = mail
exim_group = mail
never_users = root
spool_directory = {spool}
log_file_path = {base}/log/%slog
pid_file_path = {base}/exim.pid
local_interfaces = {self.addr('exim')}
daemon_smtp_ports = 25
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
keep_environment =
acl_smtp_rcpt = acl_rcpt
# the bounce lab's messages are small; the returned original is kept whole
return_size_limit = 100K
# a message still queued after 2 s gets a delay warning (Action: delayed); only slow.<tld> is retried
delay_warning = 2s

begin acl
acl_rcpt:
  accept hosts = 127.0.0.0/8
  deny

begin routers
lmtp:
  driver = manualroute
  domains = {lmtp}
  route_list = * {self.addr('sink')}
  transport = lmtp
remote:
  driver = manualroute
  route_list = {routes}
  transport = smtp

begin transports
smtp:
  driver = smtp
  connect_timeout = 5s
lmtp:
  driver = smtp
  protocol = lmtp
  port = 24

begin retry
# only slow.<tld> is retried (every second for an hour); without a rule that matches, Exim treats a
# temporary error as final (its queue lifetime is zero)
{self.domain('slow')}  *  F,1h,1s
""")
        # Exim re-executes itself (queue runs, deliveries, bounces) as the compiled-in /usr/sbin/exim4
        self._spawn("exim", _namespaced({EXIM.parent: "/usr/sbin", self.workdir / "resolv.conf": "/etc/resolv.conf"},
                                        [str(EXIM), "-C", str(conf), "-bd", "-q1s"]),
                    base / "exim.pid", "exim4")

    # -- OpenSMTPD ----------------------------------------------------------------------------------

    def _start_opensmtpd(self) -> None:
        base = self.workdir / "opensmtpd"
        spool, run = base / "spool", base / "run"
        for d in (base, spool, run):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(spool, 0o711)
        actions, matches = [], []
        for n, (domain, hop) in enumerate(self._routes().items()):
            how = f"lmtp://{hop}" if hop.endswith(":24") else f"smtp://{hop}:25"
            actions.append(f'action "route{n}" relay host {how}')
            matches.append(f'match from any for domain "{domain}" action "route{n}"')
        conf = base / "smtpd.conf"
        conf.write_text("\n".join([
            "queue ttl 1s",  # expire what cannot be delivered at once
            "bounce warn-interval 1h",
            f"listen on {self.addr('opensmtpd')} port 25 hostname opensmtpd.{self.domain('bounces')}",
            *actions, *matches, "",
        ]))
        os.chmod(conf, 0o644)
        # its queue (/var/spool/smtpd) and control socket (/run/smtpd.sock) are compiled-in paths: a mount
        # namespace gives this instance its own, never another lab's (or the system's)
        binds = {spool: "/var/spool/smtpd", run: "/run", self.workdir / "resolv.conf": "/etc/resolv.conf"}
        self._spawn("opensmtpd", _namespaced(binds, [str(SMTPD), "-d", "-f", str(conf)]),
                    None, "smtpd")  # unshare and sh exec into smtpd: one pid


def _namespaced(binds: dict[Path, str], argv: list[str]) -> list[str]:
    """``argv`` run in its own mount namespace where each directory or file ``binds`` names is mounted over
    the compiled-in path it maps to (seen by that process tree only; gone when it exits)."""
    mounts = " && ".join(f"mount --bind '{src}' '{dst}'" for src, dst in binds.items())
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            f"{mounts} && exec " + " ".join(f"'{a}'" for a in argv)]
