"""The round trip's I/O: submit a test message, then poll the mailbox (IMAP, else POP3) until it arrives.

The message carries a unique token in a header (X-Maildoctor-Token) and in the subject. Polling
backs off (0.5 s doubling to 5 s) and stops at the deadline; a broken mailbox session is reopened
at most a few times. The copy found is deleted by UID (UID EXPUNGE, RFC 4315) so nothing else the
user marked deleted is expunged; POP3 deletes by message number in the same session.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from dataclasses import dataclass, field
from email.utils import formatdate, make_msgid

from diagnose.knowledge.sanitize import clean
from diagnose.net.dialogue import Endpoint
from diagnose.net.mailsession import Login, MailSession, Outcome
from diagnose.net.protocol import ProtocolError, command_bytes

TOKEN_HEADER = "X-Maildoctor-Token"
MAX_POP_SCAN = 50  # newest messages looked at per POP3 poll
MAX_RECONNECTS = 3
JUNK_NAMES = re.compile(r"(^|[./])(junk|spam|bulk|junk[- ]e-?mail|courrier ind\S*|spam-?verdacht)$", re.I)


def new_token() -> str:
    return "md-" + secrets.token_hex(8)


def build_message(sender: str, recipient: str, token: str) -> bytes:
    domain = sender.rpartition("@")[2] or "maildoctor.invalid"
    lines = [
        f"From: maildoctor test <{sender}>",
        f"To: <{recipient}>",
        f"Subject: maildoctor round trip test {token}",
        f"Date: {formatdate(usegmt=True)}",
        f"Message-ID: {make_msgid(idstring=token, domain=domain)}",
        f"{TOKEN_HEADER}: {token}",
        "Auto-Submitted: auto-generated",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "maildoctor sent this message to test that mail from this account reaches its mailbox.",
        "It deletes the message once it has arrived; if you still see it, you may delete it.",
    ]
    for line in lines:
        command_bytes(line, "message header")  # a CR/LF in a header value would forge headers: refused
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


@dataclass
class Submission:
    endpoint: Endpoint
    stage: str = "login"  # where it stopped: login, MAIL FROM, RCPT TO, DATA, message, or "accepted"
    code: int | None = None
    words: str = ""
    queue_id: str = ""
    accepted_at: float = 0.0  # time.monotonic()
    login: Login | None = None
    transcript: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    replies: list[tuple[str, int, str]] = field(default_factory=list)  # (step, code, text) after the login

    @property
    def accepted(self) -> bool:
        return self.stage == "accepted"


def queue_id(text: str) -> str:
    """The queue id in a 250 reply to the message: Postfix "queued as 4Xy", Exim "id=1a-2b-3c", others."""
    m = re.search(r"queued as ([A-Za-z0-9]+)", text, re.I) or re.search(r"\bid=([\w.-]+)", text, re.I) \
        or re.search(r"InternalId=(\d+)", text)
    return m.group(1) if m else ""


async def submit(session: MailSession, sender: str, recipient: str, message: bytes) -> Submission:
    """Log in and hand the message over; never raises for what the server does."""
    start = time.monotonic()
    sub = Submission(session.ep)
    try:
        sub.login = await session.login()
        if sub.login.outcome is not Outcome.OK:
            sub.words = sub.login.words
            return sub
        for stage, line in (("MAIL FROM", f"MAIL FROM:<{sender}>"), ("RCPT TO", f"RCPT TO:<{recipient}>"),
                            ("DATA", "DATA")):
            reply = await session.smtp(line, stage)
            sub.replies.append((stage, reply.code, reply.text))
            if reply.code not in (250, 251, 354):
                sub.stage, sub.code, sub.words = stage, reply.code, f"{reply.code} {reply.text}"
                return sub
        stuffed = re.sub(rb"(?m)^\.", b"..", message)
        session.transcript.add("C", f"(the test message: {len(stuffed)} bytes)")
        session.connected_writer.write(stuffed + b".\r\n")
        reply = await session.smtp_reply_only("end of message")
        sub.replies.append(("end of message", reply.code, reply.text))
        sub.code, sub.words = reply.code, f"{reply.code} {reply.text}"
        if reply.code == 250:
            sub.stage, sub.accepted_at, sub.queue_id = "accepted", time.monotonic(), queue_id(reply.text)
        else:
            sub.stage = "message"
    except ProtocolError as exc:
        sub.words = f"{exc.phase}: {exc.failure.value} {exc.detail}".strip()
        sub.stage = sub.stage if sub.login is None or sub.login.outcome is not Outcome.OK else exc.phase
    except (OSError, TimeoutError) as exc:
        sub.words = f"connection lost: {exc or type(exc).__name__}"
    finally:
        await session.close("QUIT")
        sub.transcript = session.transcript.as_list()
        sub.elapsed_s = time.monotonic() - start
    return sub


@dataclass
class Delivery:
    endpoint: Endpoint
    found: bool = False
    folder: str = ""
    latency_s: float = 0.0
    message: bytes = b""  # the delivered copy as stored (header and body)
    deleted: bool = False
    delete_detail: str = ""
    polls: int = 0
    problem: str = ""  # why the mailbox could not be checked (login failed, server gone)
    bounced: bool = False  # a delivery status notification about the test message came back instead
    bounce_words: str = ""
    login: Login | None = None
    transcript: list[str] = field(default_factory=list)
    junk_folders: list[str] = field(default_factory=list)


def backoff():
    delay = 0.5
    while True:
        yield delay
        delay = min(delay * 2, 5.0)


async def await_delivery(open_session, token: str, *, accepted_at: float, deadline: float) -> Delivery:
    """Poll until the token arrives or ``deadline`` (time.monotonic()); ``open_session()`` gives a fresh MailSession."""
    session: MailSession = open_session()
    d = Delivery(session.ep)
    delays = backoff()
    reconnects = 0
    poll = _imap_round if session.ep.protocol == "imap" else _pop_round
    try:
        while True:
            if session.writer is None:
                login = await session.login()
                d.login = d.login or login
                if login.outcome is not Outcome.OK:
                    d.problem = (
                        f"login on {session.ep.host}:{session.ep.port} failed: {login.outcome.value}: {login.words}"
                    )
                    return d
            try:
                d.polls += 1
                if await poll(session, token, d, accepted_at):
                    return d
            except (ProtocolError, OSError, TimeoutError) as exc:
                reconnects += 1
                d.transcript += session.transcript.as_list()
                await session.close()
                if reconnects > MAX_RECONNECTS:
                    d.problem = f"the mailbox session kept breaking: {exc}"
                    return d
                session = open_session()
            if session.ep.protocol == "pop3":  # a POP3 session sees the mailbox as it was at login
                await session.close("QUIT")
                d.transcript += session.transcript.as_list()
                session = open_session()
            left = deadline - time.monotonic()
            if left <= 0:
                return d
            await asyncio.sleep(min(next(delays), left))
    finally:
        if session.writer is not None:
            await session.close("z LOGOUT" if session.ep.protocol == "imap" else "QUIT")
        d.transcript = (d.transcript + session.transcript.as_list())[-80:]


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def _imap_round(s: MailSession, token: str, d: Delivery, accepted_at: float) -> bool:
    if d.polls % 4 == 1:  # LIST now and then (not every round): a Junk folder may appear meanwhile
        d.junk_folders = await _junk_folders(s)
    folders = ["INBOX"] + d.junk_folders
    for folder in folders:
        if not (await s.imap(f"SELECT {_quote(folder)}", "SELECT"))[-1].upper().startswith("OK"):
            continue
        uids = _uids(await s.imap(f"UID SEARCH HEADER {TOKEN_HEADER} {token}", "SEARCH"))
        if not uids and folder == "INBOX":
            # The token in a message's text but not in its header: a bounce (DSN) quoting the test message.
            bounces = _uids(await s.imap(f"UID SEARCH TEXT {token}", "SEARCH"))
            if bounces:
                literals: list[bytes] = []
                await s.imap(f"UID FETCH {bounces[0]} (BODY.PEEK[TEXT]<0.20000>)", "FETCH", literals=literals)
                d.bounced, d.latency_s = True, time.monotonic() - accepted_at
                d.bounce_words = bounce_reason(literals[0] if literals else b"")
                d.folder = folder
                d.deleted, d.delete_detail = await _imap_delete(s, bounces)
                return True
        if not uids:
            continue
        d.found, d.folder, d.latency_s = True, folder, time.monotonic() - accepted_at
        literals = []
        await s.imap(f"UID FETCH {uids[0]} (BODY.PEEK[])", "FETCH", literals=literals)
        d.message = literals[0] if literals else b""
        d.deleted, d.delete_detail = await _imap_delete(s, uids)
        return True
    return False


def _uids(lines: list[str]) -> list[str]:
    return [
        u
        for line in lines
        if line.upper().startswith("* SEARCH")
        for u in line.split()[2:]
        if u.isascii() and u.isdigit()
    ][:20]


async def _imap_delete(s: MailSession, uids: list[str]) -> tuple[bool, str]:
    uid_set = ",".join(uids)
    stored = (await s.imap(f"UID STORE {uid_set} +FLAGS.SILENT (\\Deleted)", "STORE"))[-1]
    if "UIDPLUS" in s.caps:
        status = (await s.imap(f"UID EXPUNGE {uid_set}", "EXPUNGE"))[-1]
        ok = status.upper().startswith("OK")
        return ok, "deleted" if ok else f"could not delete it: {status}"
    return False, ("marked deleted; it disappears at the mail program's next expunge (the server lacks "
                   "UIDPLUS, and a plain EXPUNGE would also remove other messages marked deleted)"
                   if stored.upper().startswith("OK") else f"could not mark it deleted: {stored}")


def bounce_reason(text: bytes) -> str:
    """The reason in a delivery status notification (RFC 3464 Status/Diagnostic-Code), else its first words."""
    body = text.decode("utf-8", "replace")
    diag = re.search(r"^Diagnostic-Code:\s*(?:smtp|x-[\w-]+)?;?\s*(.+(?:\n[ \t].+)*)", body, re.I | re.M)
    status = re.search(r"^Status:\s*([245]\.\d{1,3}\.\d{1,3})", body, re.I | re.M)
    if diag:
        words = re.sub(r"\s+", " ", diag.group(1)).strip()
        return clean(f"{status.group(1) + ': ' if status and status.group(1) not in words else ''}{words}", limit=300)
    lines = [line.strip() for line in body.splitlines() if line.strip() and not line.startswith("--")]
    return clean(" ".join(lines[:3]), limit=300) or "no reason given"


async def _junk_folders(s: MailSession) -> list[str]:
    names = []
    for line in await s.imap('LIST "" "*"', "LIST"):
        m = re.match(r'^\* LIST \(([^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (.+)$', line, re.I)
        if not m:
            continue
        name = m.group(2).strip()
        if name.startswith('"') and name.endswith('"'):
            name = re.sub(r'\\(.)', r"\1", name[1:-1])
        if "\\JUNK" in m.group(1).upper() or JUNK_NAMES.search(name):
            names.append(name)
    return names[:5]


async def _pop_round(s: MailSession, token: str, d: Delivery, accepted_at: float) -> bool:
    stat = (await s.pop("STAT", "STAT"))[0].split()
    count = int(stat[1]) if len(stat) > 1 and stat[0] == "+OK" and stat[1].isascii() and stat[1].isdigit() else 0
    for n in range(count, max(0, count - MAX_POP_SCAN), -1):
        lines = await s.pop(f"TOP {n} 0", "TOP", multiline=True)
        if not lines[0].startswith("+OK"):  # TOP is optional (RFC 1939 §7): read small messages whole
            size = (await s.pop(f"LIST {n}", "LIST"))[0].split()
            if not (len(size) == 3 and size[2].isascii() and size[2].isdigit() and int(size[2]) < 256 * 1024):
                continue
            lines = await s.pop(f"RETR {n}", "RETR", multiline=True)
            if not lines[0].startswith("+OK"):
                continue
            lines = lines[: lines.index("") if "" in lines else len(lines)]
        header = "\r\n".join(lines[1:])
        if re.search(rf"^{TOKEN_HEADER}:\s*{re.escape(token)}\s*$", header, re.I | re.M):
            d.found, d.folder, d.latency_s = True, "the POP3 mailbox", time.monotonic() - accepted_at
            whole = await s.pop(f"RETR {n}", "RETR", multiline=True)
            d.message = ("\r\n".join(whole[1:] if whole[0].startswith("+OK") else lines[1:]) + "\r\n").encode(
                "utf-8", "replace"
            )
            status = (await s.pop(f"DELE {n}", "DELE"))[0]
            d.deleted = status.startswith("+OK")
            d.delete_detail = "deleted" if d.deleted else f"could not delete it: {status}"
            await s.close("QUIT")  # POP3 deletes only on a clean QUIT (RFC 1939 §6)
            return True
    return False
