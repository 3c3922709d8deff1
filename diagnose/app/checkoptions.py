"""`check`'s parameters as Click parses them, for diagnose.app.checkargs (its argv read without Typer).
Written by scripts/check_options.py from the Typer command (diagnose.app.cli.check);
tests/unit/test_check_args.py keeps the two equal."""

from pathlib import Path

from diagnose.app.checkargs import Param
from diagnose.app.formats import Format
from diagnose.engine.exitcodes import FailOn

PARAMS = (
    Param('target', 'argument'),
    Param('nameserver', 'option', opts=('--nameserver', '-n'), multiple=True, default=[]),
    Param('timeout', 'option', opts=('--timeout', '-t'), type=float),
    Param('fmt', 'option', opts=('--format', '-f'), type=Format),
    Param('output', 'option', opts=('--output', '-o'), type=Path),
    Param('ca_file', 'option', opts=('--ca-file',), type=Path),
    Param('dkim_selector', 'option', opts=('--dkim-selector',), multiple=True, default=[]),
    Param('dnsbl', 'option', opts=('--dnsbl',), multiple=True, default=[]),
    Param('cert_warn_days', 'option', opts=('--cert-warn-days',), type=int, default=14),
    Param('no_revocation', 'flag', opts=('--no-revocation',), type=bool, default=False),
    Param('ehlo', 'option', opts=('--ehlo',), default=''),
    Param('smtp_host', 'option', opts=('--smtp-host',), multiple=True, default=[]),
    Param('imap_host', 'option', opts=('--imap-host',), multiple=True, default=[]),
    Param('pop_host', 'option', opts=('--pop-host',), multiple=True, default=[]),
    Param('only', 'option', opts=('--check', '-c'), multiple=True, default=[]),
    Param('skip', 'option', opts=('--skip',), multiple=True, default=[]),
    Param('quiet', 'flag', opts=('--quiet', '-q'), type=bool, default=False),
    Param('verbose', 'flag', opts=('--verbose', '-v'), type=bool, default=False),
    Param('fail_on', 'option', opts=('--fail-on',), type=FailOn),
    Param('require', 'option', opts=('--require',), multiple=True, default=[]),
    Param('anonymize', 'flag', opts=('--anonymize',), type=bool, default=False),
    Param('config', 'option', opts=('--config',), type=Path),
    Param('profile', 'option', opts=('--profile', '-p')),
    Param('user', 'option', opts=('--user', '-u'), default=''),
    Param('password_env', 'option', opts=('--password-env',), default=''),
    Param('smtp_user', 'option', opts=('--smtp-user',), default=''),
    Param('smtp_password_env', 'option', opts=('--smtp-password-env',), default=''),
    Param('imap_user', 'option', opts=('--imap-user',), default=''),
    Param('imap_password_env', 'option', opts=('--imap-password-env',), default=''),
    Param('oauth2_token_env', 'option', opts=('--oauth2-token-env',), default=''),
    Param('oauth2_token_cmd', 'option', opts=('--oauth2-token-cmd',), default=''),
    Param('oauth2', 'option', opts=('--oauth2',), default=''),
    Param('allow_plaintext_auth', 'flag', opts=('--allow-plaintext-auth',), type=bool, default=False),
    Param('roundtrip', 'flag', opts=('--roundtrip',), type=bool, default=False),
    Param('roundtrip_timeout', 'option', opts=('--roundtrip-timeout',), type=float, default=120.0),
    Param('to', 'option', opts=('--to',), default=''),
    Param('tui', 'flag', opts=('--tui',), type=bool, default=False),
)
