"""maildoctor's own check plugins, one module per check, registered through entry points."""
