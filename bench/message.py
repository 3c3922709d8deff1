"""`maildoctor message` on every bounce fixture and on hostile input: the goal is "a second or two"
for anything (issue 16), the whole command included (start-up, parsing, the report). No lab needed.

    .venv/bin/python bench/message.py [--runs 3]

Prints a markdown table: input, size, median wall time, exit code.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))
HEAD = (b"From: MAILER-DAEMON@mail.example.org\nTo: sender@example.org\nSubject: Undelivered Mail\n"
        b"MIME-Version: 1.0\n")
BLOCK = b"Final-Recipient: rfc822; a%d@example.net\nAction: failed\nStatus: 5.1.1\n\n"


def dsn(blocks: bytes) -> bytes:
    return (HEAD + b'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\n\n--R\n'
            b"Content-Type: message/delivery-status\n\n" + blocks + b"--R--\n")


def hostile() -> dict[str, bytes]:
    hop = b"Received: from a.example (a.example [192.0.2.1]) by b.example; Mon, 11 Mar 2024 10:00:00 +0000\n"
    return {
        "50 MB bounce": dsn(BLOCK % 1) + (b"A" * 76 + b"\n") * (50 * 1024 * 1024 // 77),
        "10,000 Received headers": hop * 10_000 + dsn(BLOCK % 1),
        "5,000 recipient blocks": dsn(b"".join(BLOCK % n for n in range(5000))),
        "50,000 MIME parts": HEAD + b"Content-Type: multipart/mixed; boundary=B\n\n" +
        b"--B\nContent-Type: text/plain\n\nx\n" * 50_000 + b"--B--\n",
        "one 2 MB line": HEAD + b"Content-Type: text/plain\n\n<a@example.net>: " + b"550 5.1.1 " * 200_000,
        "100,000 addresses": HEAD + b"Content-Type: text/plain\n\n" +
        b" ".join(b"u%d@example.net 550" % n for n in range(100_000)),
        "base64 binary notice": HEAD + b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n" +
        base64.encodebytes(bytes(range(256)) * 100),
        "binary data (refused)": bytes(range(256)) * 4096,
    }


def timed(path: Path, runs: int) -> tuple[float, int]:
    times, code = [], 0
    for _ in range(runs):
        start = time.monotonic()
        code = subprocess.run([MAILDOCTOR, "message", str(path), "-f", "json", "--offline", "--output", "/dev/null"],
                              capture_output=True, timeout=120).returncode
        times.append(time.monotonic() - start)
    return statistics.median(times), code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = [(p.name, p.read_bytes()) for p in sorted((ROOT / "tests" / "data" / "bounces").glob("*.eml"))]
    rows += list(hostile().items())
    print("| input | bytes | wall (median) | exit |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in rows:
            path = Path(tmp) / "input.eml"
            path.write_bytes(data)
            wall, code = timed(path, args.runs)
            print(f"| {name} | {len(data):,} | {wall:.2f} s | {code} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
