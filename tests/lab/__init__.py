"""maildoctor's local mail test lab: Knot, Unbound, Postfix and Dovecot on
loopback addresses, with one DNS zone per fault scenario.

    from tests.lab import Lab
    lab = Lab.start(Path("/tmp/mdlab-x"))   # net="127.77", tld="test"
    lab.resolver, lab.domain("healthy"), lab.host("mx1"), lab.ca_file
    lab.stop()

See tests/lab/README.md.
"""

from tests.lab.lab import INSTALL_HINT, Lab, LabNotInstalled, check_installed, missing_binaries
from tests.lab.procs import LabError

__all__ = ["Lab", "LabError", "LabNotInstalled", "INSTALL_HINT", "check_installed",
           "missing_binaries"]
