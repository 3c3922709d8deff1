"""Reports written to a symlink or a FIFO go into it; the link or pipe itself is never replaced
(renaming over /dev/null as root once turned it into a regular file for the whole machine)."""

import os
import stat
import threading

from diagnose.app.session import write_atomically


def test_a_symlink_stays_a_link_and_its_target_gets_the_report(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    write_atomically(link, "new report")
    assert link.is_symlink() and target.read_text() == "new report"


def test_a_fifo_stays_a_fifo_and_its_reader_gets_the_report(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    write_atomically(fifo, "through the pipe")
    reader.join(timeout=10)
    assert received == ["through the pipe"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_plain_file_is_replaced_whole(tmp_path):
    out = tmp_path / "report.json"
    out.write_text("x" * 1000)
    write_atomically(out, "short")
    assert out.read_text() == "short" and not list(tmp_path.glob(".report.json.*"))
