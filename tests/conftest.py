"""Shared pytest configuration for maildoctor's tests."""

from __future__ import annotations

# --- mail test lab (tests/lab) ------------------------------------------------
# Tests that talk to real servers take the session-scoped `lab` fixture and are
# marked `@pytest.mark.lab`. The fixture starts a lab in a temp dir (net from
# MAILDOCTOR_LAB_NET, default 127.77) and stops it after the session; with
# MAILDOCTOR_LAB_DIR pointing at a running lab (python -m tests.lab start
# --dir DIR) it reuses that lab and leaves it running. Missing servers are a
# failure, not a skip: run tests/lab/install.sh.
import os
import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items):
    """A test that takes the `lab` (or `browser`) fixture is a lab (browser) test, marked or not:
    `-m "not lab"` never starts the lab. The markers are registered in pyproject.toml."""
    for item in items:
        for marker in ("lab", "browser"):
            if marker in getattr(item, "fixturenames", ()) and not item.get_closest_marker(marker):
                item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture(scope="session")
def lab():
    from tests.lab import INSTALL_HINT, Lab, LabError, missing_binaries

    reuse = os.environ.get("MAILDOCTOR_LAB_DIR")
    if reuse:
        try:
            existing = Lab.load(reuse)
        except LabError as e:
            pytest.fail(f"MAILDOCTOR_LAB_DIR={reuse}: {e}; start one with "
                        f"`python -m tests.lab start --dir {reuse}` or unset the variable",
                        pytrace=False)
        if not existing.running():
            pytest.fail(f"MAILDOCTOR_LAB_DIR={reuse}: the lab there is not running; start it "
                        f"with `python -m tests.lab start --dir {reuse}` or unset the variable",
                        pytrace=False)
        yield existing
        return

    missing = missing_binaries()
    if missing:
        pytest.fail(f"mail test lab servers are not installed (missing {', '.join(missing)}): "
                    f"{INSTALL_HINT}", pytrace=False)
    if os.geteuid() != 0:
        pytest.fail("the mail test lab needs root (ports 25/53, iptables)", pytrace=False)

    net = os.environ.get("MAILDOCTOR_LAB_NET", "127.77")
    # not pytest's tmp_path: its parents are mode 0700, which the servers'
    # unprivileged processes (postfix, dovecot, mail) cannot traverse
    workdir = Path(tempfile.mkdtemp(prefix="mdlab-"))
    try:
        instance = Lab.start(workdir, net=net)
    except LabError as e:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.fail(f"mail test lab failed to start (net {net}): {e}", pytrace=False)
    try:
        yield instance
    finally:
        instance.stop()
        shutil.rmtree(workdir, ignore_errors=True)
# --- end of mail test lab -------------------------------------------------------
