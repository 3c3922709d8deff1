"""Postfix and Dovecot configuration for the lab (one instance of each)."""

from __future__ import annotations

import base64
import fcntl
import grp
import hashlib
import json
import os
import pwd
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

from tests.lab.scenarios import (
    BASIC_AUTH_OFF,
    DOVECOT_SERVICES,
    MAIL_ACCOUNTS,
    MAIL_DOMAIN_SCENARIO,
    POSTFIX_SERVICES,
    SMTP_AUTH_OFF,
)
from tests.lab.zones import Plan

POSTFIX = "/usr/sbin/postfix"
DOVECOT = "/usr/sbin/dovecot"
DEFAULT_MAIN_CF = Path("/etc/postfix/main.cf")
ALT_KEY = "alternate_config_directories"


# -- /etc/postfix/main.cf: the single line postfix -c needs -------------------

@contextmanager
def _main_cf_lock():
    lock = Path(tempfile.gettempdir()) / "maildoctor-lab-postfix-main-cf.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _rewrite_alt_dirs(change) -> None:
    """Apply change(set_of_dirs) to the alternate_config_directories line of
    the default instance's main.cf (creating file/line if needed, one line
    only). Entries whose directory no longer exists are pruned."""
    with _main_cf_lock():
        text = DEFAULT_MAIN_CF.read_text() if DEFAULT_MAIN_CF.exists() else ""
        lines = text.splitlines()
        dirs: list[str] = []
        keep: list[str] = []
        pat = re.compile(rf"^\s*{ALT_KEY}\s*=(.*)$")
        i = 0
        while i < len(lines):
            m = pat.match(lines[i])
            if m:
                value = m.group(1)
                # continuation lines start with whitespace
                while i + 1 < len(lines) and lines[i + 1][:1] in (" ", "\t") and lines[i + 1].strip():
                    i += 1
                    value += " " + lines[i]
                dirs += [d for d in re.split(r"[\s,]+", value) if d]
            else:
                keep.append(lines[i])
            i += 1
        before = list(dict.fromkeys(dirs))
        current = [d for d in before if "$" in d or os.path.isdir(d)]
        after = change(current)
        if after == before and text:
            return
        new_lines = keep + [f"{ALT_KEY} = " + " ".join(after)]
        DEFAULT_MAIN_CF.parent.mkdir(parents=True, exist_ok=True)
        tmp = DEFAULT_MAIN_CF.with_name(".main.cf.maildoctor-lab.tmp")
        tmp.write_text("\n".join(new_lines) + "\n")
        if DEFAULT_MAIN_CF.exists():
            st = DEFAULT_MAIN_CF.stat()
            os.chmod(tmp, st.st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, DEFAULT_MAIN_CF)


def register_config_dir(confdir: str) -> None:
    _rewrite_alt_dirs(lambda dirs: dirs if confdir in dirs else dirs + [confdir])


def unregister_config_dir(confdir: str) -> None:
    _rewrite_alt_dirs(lambda dirs: [d for d in dirs if d != confdir])


# -- Postfix ------------------------------------------------------------------

MASTER_CF_BASE = """\
# service    type  private unpriv  chroot  wakeup  maxproc command + args
pickup       unix  n       -       n       60      1       pickup
cleanup      unix  n       -       n       -       0       cleanup
qmgr         unix  n       -       n       300     1       qmgr
tlsmgr       unix  -       -       n       1000?   1       tlsmgr
rewrite      unix  -       -       n       -       -       trivial-rewrite
bounce       unix  -       -       n       -       0       bounce
defer        unix  -       -       n       -       0       bounce
trace        unix  -       -       n       -       0       bounce
verify       unix  -       -       n       -       1       verify
flush        unix  n       -       n       1000?   0       flush
proxymap     unix  -       -       n       -       -       proxymap
proxywrite   unix  -       -       n       -       1       proxymap
smtp         unix  -       -       n       -       -       smtp
relay        unix  -       -       n       -       -       smtp
showq        unix  n       -       n       -       -       showq
error        unix  -       -       n       -       -       error
retry        unix  -       -       n       -       -       error
discard      unix  -       -       n       -       -       discard
local        unix  -       n       n       -       -       local
virtual      unix  -       n       n       -       -       virtual
lmtp         unix  -       -       n       -       -       lmtp
anvil        unix  -       -       n       -       1       anvil
scache       unix  -       -       n       -       1       scache
postlog      unix-dgram n  -       n       -       1       postlogd
"""


def write_postfix(base: Path, plan: Plan, certs: dict[str, dict], dovecot: dict, opendkim: dict | None = None,
                  ca_file: str = "") -> dict:
    conf = base / "conf"
    queue = base / "queue"
    data = base / "data"
    for d in (conf, queue, data):
        d.mkdir(parents=True, exist_ok=True)
    pf = pwd.getpwnam("postfix")
    os.chown(data, pf.pw_uid, pf.pw_gid)

    domain = plan.domain(MAIL_DOMAIN_SCENARIO)
    mx1 = plan.hosts["mx1"]
    hosts = [h for h in plan.hosts.values() if set(h.services) & set(POSTFIX_SERVICES)]
    vmailbox = conf / "vmailbox"
    vmailbox.write_text("".join(f"{address} OK\n" for address in dovecot["accounts"].values()))
    transport = conf / "transport"  # mailboxes whose mail is accepted and silently dropped
    transport.write_text("".join(f"{dovecot['accounts'][name]} discard:maildoctor lab drops this mailbox's mail\n"
                                 for name, fault in MAIL_ACCOUNTS.items() if fault == "discard"))

    main = {
        "compatibility_level": "3.6",
        "queue_directory": str(queue),
        "data_directory": str(data),
        "maillog_file": str(base / "maillog"),
        "maillog_file_prefixes": str(base),
        "myhostname": mx1.fqdn,
        "mydomain": domain,
        "myorigin": domain,
        "mydestination": "",
        "mynetworks": "",
        "relay_domains": "",
        # Postfix insists that inet_interfaces are interface addresses (only
        # 127.0.0.1 is); every smtpd in master.cf names its own ADDR:PORT.
        "inet_interfaces": "loopback-only",
        "inet_protocols": "ipv4",
        "local_recipient_maps": "",
        "alias_maps": "",
        "alias_database": "",
        "biff": "no",
        "append_dot_mydomain": "no",
        "readme_directory": "no",
        "smtpd_banner": "$myhostname ESMTP maildoctor-lab",
        "smtpd_peername_lookup": "no",
        "smtputf8_enable": "no",
        # nothing ever leaves the lab
        "default_transport": "error:maildoctor lab does not relay",
        "relay_transport": "error:maildoctor lab does not relay",
        "virtual_mailbox_domains": domain,
        "virtual_mailbox_maps": f"texthash:{vmailbox}",
        "virtual_transport": f"lmtp:unix:{dovecot['lmtp_socket']}",
        "transport_maps": f"texthash:{transport}",
        "recipient_delimiter": "+",
        "smtpd_relay_restrictions": "permit_sasl_authenticated, reject_unauth_destination",
        "smtpd_recipient_restrictions": "",
        "smtpd_tls_security_level": "may",
        "smtpd_tls_protocols": ">=TLSv1.2",  # TLS 1.0/1.1 off, as on a well-kept server
        "smtpd_tls_mandatory_protocols": ">=TLSv1.2",
        "smtpd_tls_cert_file": certs["mx1"]["chain"],
        "smtpd_tls_key_file": certs["mx1"]["key"],
        "smtpd_tls_loglevel": "1",
        "smtpd_tls_received_header": "yes",
        "smtp_tls_security_level": "none",
        "smtpd_sasl_type": "dovecot",
        "smtpd_sasl_path": dovecot["auth_socket"],
        "smtpd_sasl_auth_enable": "no",
        "smtpd_sasl_security_options": "noanonymous",
        "broken_sasl_auth_clients": "no",
    }
    (conf / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in main.items()))

    lines = [MASTER_CF_BASE]
    signed = _signing_hosts(plan, hosts) if opendkim else set()
    if opendkim:
        lines.append(_relay_transport(plan, ca_file))
    for h in hosts:
        c = certs[h.key]
        common = [f"-o myhostname={h.fqdn}", f"-o smtpd_tls_cert_file={c['chain']}",
                  f"-o smtpd_tls_key_file={c['key']}"]
        for svc in h.services:
            if svc not in POSTFIX_SERVICES:
                continue
            port = POSTFIX_SERVICES[svc]
            opts = list(common)
            if svc == "smtp":
                opts += ["-o smtpd_tls_security_level=may"]
            else:
                opts += ["-o smtpd_sasl_auth_enable=yes",
                         "-o smtpd_client_restrictions=permit_sasl_authenticated,reject",
                         "-o smtpd_relay_restrictions=permit_sasl_authenticated,reject"]
                if svc == "submission":
                    opts += ["-o smtpd_tls_security_level=encrypt", "-o smtpd_tls_auth_only=yes"]
                else:  # submissions, port 465
                    opts += ["-o smtpd_tls_wrappermode=yes", "-o smtpd_tls_security_level=encrypt"]
            if h.key in signed:
                opts += [f"-o smtpd_milters=unix:{opendkim['socket']}", "-o milter_default_action=tempfail"]
                if svc != "smtp":  # submitted mail goes out once more over SMTP, as to another provider
                    opts += [f"-o content_filter=labrelay:[{plan.addr('mx2')}]:25"]
            opts += [f"-o {o}" for o in h.postfix]  # the host's own faults come last and win
            lines.append(f"{h.addr}:{port} inet n - n - - smtpd\n  " + "\n  ".join(opts) + "\n")
    (conf / "master.cf").write_text("".join(lines))

    return {
        "argv": [POSTFIX, "-c", str(conf), "start"],
        "confdir": str(conf),
        "pidfile": str(queue / "pid" / "master.pid"),
        "comm": "master",
        "log": str(base / "maillog"),
        "listen": {h.key: {s: POSTFIX_SERVICES[s] for s in h.services if s in POSTFIX_SERVICES}
                   for h in hosts},
    }


def _signing_hosts(plan: Plan, hosts) -> set[str]:
    """The healthy domain's own mail hosts (mx1, mx2, smtp): their smtpd passes mail through OpenDKIM."""
    domain = plan.domain(MAIL_DOMAIN_SCENARIO)
    return {h.key for h in hosts if h.fqdn.endswith("." + domain) and not h.postfix}


def _relay_transport(plan: Plan, ca_file: str) -> str:
    """The SMTP client that carries submitted mail from mx1 to mx2 port 25 (content_filter of the
    submission services): so a delivered message has the hops of mail between two providers
    (ESMTPSA to the submission server, ESMTPS between the servers, LMTP into the mailbox), a DKIM
    signature made on submission and verified on receipt, and an SPF-checkable client address."""
    mx1 = plan.hosts["mx1"]
    opts = [f"smtp_bind_address={mx1.addr}", f"smtp_helo_name={mx1.fqdn}", "smtp_tls_security_level=encrypt",
            f"smtp_tls_CAfile={ca_file}", "smtp_tls_loglevel=1"]
    return "labrelay     unix  -       -       n       -       -       smtp\n  " + "\n  ".join(
        f"-o {o}" for o in opts) + "\n"


# -- Dovecot ------------------------------------------------------------------

def ssha512(password: str) -> str:
    salt = os.urandom(8)
    digest = hashlib.sha512(password.encode() + salt).digest()
    return "{SSHA512}" + base64.b64encode(digest + salt).decode()


def write_dovecot(base: Path, plan: Plan, certs: dict[str, dict], password: str, oauth: dict) -> dict:
    run = base / "run"
    state = base / "state"
    mail = base / "mail"
    for d in (base, run, state, mail):
        d.mkdir(parents=True, exist_ok=True)
    mail_uid = pwd.getpwnam("mail").pw_uid
    mail_gid = grp.getgrnam("mail").gr_gid
    os.chown(mail, mail_uid, mail_gid)

    accounts = {name: f"{name}@{plan.domain(MAIL_DOMAIN_SCENARIO)}" for name in MAIL_ACCOUNTS}
    user = next(iter(accounts.values()))
    passwd = base / "passwd"
    # A locked account: the right password is refused with the RFC 5530 code an administrator's lock
    # gives (Dovecot's nologin extra field; a reason starting with "[" is sent as the IMAP response code).
    locked = "::::::nologin=y reason=[CONTACTADMIN]"
    passwd.write_text("".join(f"{address}:{ssha512(password)}{locked if MAIL_ACCOUNTS[name] == 'deny' else ''}\n"
                              for name, address in accounts.items() if MAIL_ACCOUNTS[name] != "bounce"))
    # Postfix's SASL ignores nologin, so for SMTP (service name %s = smtp) the lock is a deny passdb:
    # one file per service, the locked accounts only in the smtp one.
    deny = {svc: base / f"passwd-deny-{svc}" for svc in ("smtp", "imap", "pop3")}
    for svc, path in deny.items():
        path.write_text("".join(f"{accounts[name]}\n" for name, fault in MAIL_ACCOUNTS.items()
                                if fault == "deny" and svc == "smtp"))
    # Basic authentication switched off (MAIL_ACCOUNTS "oauth"): a deny passdb for the password mechanisms
    # that fails with a reason, which Dovecot sends as the IMAP [ALERT] / POP3 text and Postfix puts in its
    # 535 reply. A dict passdb, because passwd-file extra fields end at the first space.
    basic_off = base / "basic-off.dict"
    basic_off.write_text("".join(f"shared/passdb/{accounts[name]}\n{json.dumps({'reason': BASIC_AUTH_OFF})}\n"
                                 for name, fault in MAIL_ACCOUNTS.items() if fault == "oauth"))
    basic_off_conf = base / "basic-off.conf.ext"
    basic_off_conf.write_text(f"uri = file:{basic_off}\npassword_key = passdb/%u\ndefault_pass_scheme = PLAIN\n")
    # SMTP AUTH switched off for a mailbox (MAIL_ACCOUNTS "nosmtp"): the same, keyed by service (%s), every mechanism
    smtp_off = base / "smtp-off.dict"
    smtp_off.write_text("".join(f"shared/passdb/smtp/{accounts[name]}\n{json.dumps({'reason': SMTP_AUTH_OFF})}\n"
                                for name, fault in MAIL_ACCOUNTS.items() if fault == "nosmtp"))
    smtp_off_conf = base / "smtp-off.conf.ext"
    smtp_off_conf.write_text(f"uri = file:{smtp_off}\npassword_key = passdb/%s/%u\ndefault_pass_scheme = PLAIN\n")
    # Dovecot's oauth2 passdb asks the lab's authorization server (RFC 7662) whether a token is active
    intro = oauth["introspection"]
    scheme, _, rest = intro["url"].partition("://")
    oauth2_conf = base / "oauth2.conf.ext"
    oauth2_conf.write_text("\n".join([
        "introspection_mode = post",
        f"introspection_url = {scheme}://{intro['client']}:{intro['secret']}@{rest}",
        "force_introspection = yes",
        "username_attribute = username",
        "active_attribute = active",
        "active_value = true",
        f"openid_configuration_url = {oauth['issuer']}/.well-known/openid-configuration",
        "timeout_msecs = 5000",
    ]) + "\n")
    # read by Dovecot's auth process, which runs as the dovecot user
    for path in (passwd, *deny.values(), basic_off, basic_off_conf, smtp_off, smtp_off_conf, oauth2_conf):
        os.chown(path, 0, grp.getgrnam("dovecot").gr_gid)
        os.chmod(path, 0o640)

    hosts = [h for h in plan.hosts.values() if set(h.services) & set(DOVECOT_SERVICES)]
    default = certs[hosts[0].key]
    log = base / "dovecot.log"
    conf = [
        f"instance_name = {plan.instance_tag()}",
        f"base_dir = {run}",
        f"state_dir = {state}",
        f"log_path = {log}",
        f"info_log_path = {log}",
        "protocols = imap pop3 lmtp",
        "listen = " + ", ".join(h.addr for h in hosts),
        "ssl = yes",
        f"ssl_cert = <{default['chain']}",
        f"ssl_key = <{default['key']}",
        "ssl_min_protocol = TLSv1.2",
        "disable_plaintext_auth = yes",
        "auth_mechanisms = plain login xoauth2 oauthbearer",
        "auth_username_format = %Lu",
        "default_internal_user = dovecot",
        "default_login_user = dovenull",
        f"first_valid_uid = {mail_uid}",
        f"first_valid_gid = {mail_gid}",
        "mail_location = maildir:~/Maildir",
        f"hostname = {hosts[0].fqdn}",  # named in the Received header of LMTP delivery (not the machine's name)
        "login_trusted_networks =",
        "recipient_delimiter = +",
        "lmtp_save_to_detail_mailbox = yes",  # user+Junk@ lands in the Junk folder
        "lda_mailbox_autocreate = yes",
        "passdb {",
        "  driver = passwd-file",
        f"  args = {base}/passwd-deny-%s",
        "  deny = yes",
        "}",
        "passdb {",  # SMTP AUTH off for a mailbox: refused on service smtp, with the reason, whatever the mechanism
        "  driver = dict",
        f"  args = {smtp_off_conf}",
        "  deny = yes",
        "  mechanisms = plain login xoauth2 oauthbearer",
        "}",
        "passdb {",  # OAuth-only mailboxes: any password is refused, with the reason
        "  driver = dict",
        f"  args = {basic_off_conf}",
        "  deny = yes",
        "  mechanisms = plain login",
        "}",
        "passdb {",  # tokens (XOAUTH2, OAUTHBEARER), checked by introspection
        "  driver = oauth2",
        f"  args = {oauth2_conf}",
        "  mechanisms = xoauth2 oauthbearer",
        "}",
        "passdb {",  # passwords; "none": the lookups of LMTP delivery (the static userdb asks whether a user exists)
        "  driver = passwd-file",
        f"  args = {passwd}",
        "  mechanisms = plain login none",
        "}",
        "userdb {",
        "  driver = static",
        f"  args = uid={mail_uid} gid={mail_gid} home={mail}/%d/%n",
        "}",
    ]
    for h in hosts:
        c = certs[h.key]
        conf += [f"local {h.addr} {{", f"  ssl_cert = <{c['chain']}", f"  ssl_key = <{c['key']}",
                 *(f"  {o}" for o in h.dovecot), "}"]
    listeners = {"imap": [], "pop3": []}
    for h in hosts:
        for svc in h.services:
            if svc in DOVECOT_SERVICES:
                proto = svc.rstrip("s")
                ssl = "yes" if svc.endswith("s") else "no"
                listeners[proto].append(
                    f"  inet_listener {svc}_{h.key} {{\n    address = {h.addr}\n"
                    f"    port = {DOVECOT_SERVICES[svc]}\n    ssl = {ssl}\n  }}")
    for proto, items in listeners.items():
        # a listener named like the default (imap/imaps/pop3/pop3s) keeps its
        # default port; ours have unique names, so disable the defaults
        defaults = [f"  inet_listener {proto} {{\n    port = 0\n  }}",
                    f"  inet_listener {proto}s {{\n    port = 0\n  }}"]
        conf += [f"service {proto}-login {{", *defaults, *items, "}"]
    conf += [
        "service lmtp {",
        "  unix_listener lmtp {",
        "    mode = 0600",
        "    user = postfix",
        "    group = postfix",
        "  }",
        "}",
        # No growing penalty per client address (anvil): every login here comes from 127.0.0.1, and each
        # refused token is a new secret, so the delay would grow to 15 s, past Postfix's 10 s wait for its
        # SASL answer (454 "Connection lost to authentication server"). The 2 s delay of a failure stays.
        "service anvil {",
        "  unix_listener anvil-auth-penalty {",
        "    mode = 0",
        "  }",
        "}",
        "service auth {",
        "  unix_listener auth-postfix {",
        "    mode = 0600",
        "    user = postfix",
        "    group = postfix",
        "  }",
        "}",
        "protocol lmtp {",
        f"  postmaster_address = postmaster@{plan.domain(MAIL_DOMAIN_SCENARIO)}",
        "}",
    ]
    conf_path = base / "dovecot.conf"
    conf_path.write_text("\n".join(conf) + "\n")
    return {
        "argv": [DOVECOT, "-c", str(conf_path)],
        "conf": str(conf_path),
        "pidfile": str(run / "master.pid"),
        "comm": "dovecot",
        "log": str(log),
        "user": user,
        "accounts": accounts,
        "auth_socket": str(run / "auth-postfix"),
        "lmtp_socket": str(run / "lmtp"),
        "listen": {h.key: {s: DOVECOT_SERVICES[s] for s in h.services if s in DOVECOT_SERVICES}
                   for h in hosts},
    }
