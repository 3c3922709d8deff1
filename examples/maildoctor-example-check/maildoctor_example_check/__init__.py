"""An example third-party maildoctor check plugin (see README.md)."""
