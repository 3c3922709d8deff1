"""maildoctor: find out why email is not working, and say so in plain words."""

__version__ = "0.1.0"
