"""maildoctor.toml profiles: parsing, one-line errors naming file/line/key, merging with the command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from diagnose.app.config import ConfigError, load_config, load_profile, merge, settings_for

MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))

GOOD = """
[profiles.ci]
target = "example.com"
checks = ["dns", "mx"]
skip = ["dkim"]
nameservers = ["127.0.0.53"]
timeout = 2
fail_on = "fail"
format = "junit"
servers = { smtp = ["smtp.example.com"], imap = "imap.example.com" }
expect.mx = ["mx1.example.com"]
expect.cert_min_days = 21
credentials = { user_env = "MAIL_USER", password_env = "MAIL_PASSWORD" }

[profiles.default]
target = "default.example"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "maildoctor.toml"
    path.write_text(text)
    return path


def test_a_full_profile_loads(tmp_path):
    profiles = load_config(write(tmp_path, GOOD))
    ci = profiles["ci"]
    assert ci.target == "example.com" and ci.checks == ("dns", "mx") and ci.timeout == 2.0
    assert ci.servers == {"smtp_hosts": ("smtp.example.com",), "imap_hosts": ("imap.example.com",)}
    assert ci.expect == {"mx": ("mx1.example.com",), "cert_min_days": 21}
    assert ci.credentials == {"user_env": "MAIL_USER", "password_env": "MAIL_PASSWORD"}


@pytest.mark.parametrize(
    "body, where, words",
    [
        ('[profiles.ci]\ntarget = "x.example"\ntimeout = "3"\n', "line 3: profiles.ci.timeout", "positive number"),
        ("[profiles.ci]\nexpect.mx = [1]\n", "line 2: profiles.ci.expect.mx", "list holding a number"),
        (
            "[profiles.ci]\n\n[profiles.ci.expect]\ncert_min_days = 2.5\n",
            "line 4: profiles.ci.expect.cert_min_days",
            "whole number",
        ),
        ('[profiles.ci]\nfail_on = "never"\n', "line 2: profiles.ci.fail_on", '"warn" or "fail"'),
        ('[profiles.ci]\ntargett = "x.example"\n', "line 2: profiles.ci.targett", "unknown key"),
        (
            '[profiles.ci]\ncredentials.password = "hunter2"\n',
            "line 2: profiles.ci.credentials.password",
            "never the credentials",
        ),
        (
            '[profiles.ci]\ncredentials = { password_env = "not a name" }\n',
            "line 2: profiles.ci.credentials.password_env",
            "environment variable",
        ),
        (
            '[profiles.ci]\ncredentials = { oauth2 = "Microsoft 365" }\n',
            "line 2: profiles.ci.credentials.oauth2",
            "maildoctor login",
        ),
        (
            '[profiles.ci]\ncredentials = { password_env = "PW", oauth2_token_env = "TOK" }\n',
            "line 2: profiles.ci.credentials.oauth2_token_env",
            "one way to log in",
        ),
        ("timeout = 3\n", "line 1: timeout", "unknown key"),
        ("[profiles.ci\ntarget = 1\n", "TOML syntax error", "line 1"),
    ],
)
def test_config_errors_are_one_line_naming_file_line_and_key(tmp_path, body, where, words):
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and where in message and words in message, message
    assert "hunter2" not in message


def test_profile_selection(tmp_path):
    path = write(tmp_path, GOOD)
    assert load_profile(path, "ci").name == "ci"
    assert load_profile(path, None).name == "default"  # no --profile: the "default" profile
    with pytest.raises(ConfigError, match=r"no profile 'nope' \(profiles in this file: ci, default\)"):
        load_profile(path, "nope")
    with pytest.raises(ConfigError, match="no such config file"):
        load_profile(tmp_path / "missing.toml", None)


def test_command_line_wins_over_the_profile(tmp_path):
    profile = load_config(write(tmp_path, GOOD))["ci"]
    given = dict(target=None, nameservers=["127.0.0.1"], timeout=None, fmt=None, output=None, ca_file=None,
                 only=[], skip=["mx"], fail_on=None, anonymize=False)
    out = merge(profile, given)
    assert out["target"] == "example.com" and out["nameservers"] == ["127.0.0.1"] and out["timeout"] == 2.0
    assert out["only"] == ["dns", "mx"] and out["skip"] == ["mx"] and out["fmt"] == "junit" and out["fail_on"] == "fail"
    assert out["extra"]["smtp_hosts"] == ("smtp.example.com",)
    assert out["extra"]["credential_env"] == {"user_env": "MAIL_USER", "password_env": "MAIL_PASSWORD"}
    assert out["profile"].startswith("ci (")


def test_no_target_anywhere_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./maildoctor.toml here
    with pytest.raises(ConfigError, match="give a TARGET"):
        settings_for(None, None, dict(target=None))


def run(*args, cwd=None):
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([MAILDOCTOR, *args], capture_output=True, text=True, timeout=30, env=env, cwd=cwd)


def test_cli_bad_config_exits_3_with_one_line(tmp_path):
    path = write(tmp_path, '[profiles.ci]\ntarget = "x.example"\ntimeout = "soon"\n')
    proc = run("check", "--config", str(path), "--profile", "ci")
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "line 3" in lines[0] and "profiles.ci.timeout" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_unknown_profile_exits_3(tmp_path):
    write(tmp_path, GOOD)
    proc = run("check", "--profile", "nope", cwd=tmp_path)  # ./maildoctor.toml is the default
    assert proc.returncode == 3 and "no profile 'nope'" in proc.stderr, proc.stderr


ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_example_config_is_valid(tmp_path):
    section = (ROOT / "README.md").read_text().split("### Config file and profiles", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    profile = load_config(write(tmp_path, example))["ci"]
    assert profile.expect == {"mx": ("mx1.example.com", "mx2.example.com"), "cert_min_days": 21}


def test_the_github_actions_example_uses_real_options():
    workflow = (ROOT / "docs" / "github-actions.yml").read_text()
    commands = re.findall(r"^\s*(?:run: )?(maildoctor (?:check|report) [^|#\n]*)", workflow, re.M)
    assert len(commands) >= 4, commands
    for command in commands:
        words = command.split()
        help_text = run(words[1], "--help").stdout
        for word in words[2:]:
            if word.startswith("--"):
                assert word in help_text, f"{word} of `{command}` is not an option of maildoctor {words[1]}"
        if "--format" in words:
            assert words[words.index("--format") + 1] in ("text", "json", "markdown", "html", "junit", "nagios")


@pytest.mark.parametrize("output, fmt", [("r.html", "html"), ("R.MD", "markdown"), ("r.xml", "junit"),
                                         ("r.json", "json"), ("r.log", "text"), (None, "text")])
def test_output_suffix_picks_the_format_when_none_is_given(output, fmt):
    out = merge(None, dict(target="x.example", output=Path(output) if output else None, fmt=None))
    assert out["fmt"] == fmt
    assert merge(None, dict(target="x.example", output=Path("r.html"), fmt="json"))["fmt"] == "json"


def _login_from_profile(tmp_path, monkeypatch, credentials: str, **given):
    from diagnose.app.plan import Request, make_plan
    from diagnose.engine.credentials import CredentialRequest

    path = write(tmp_path, f"[profiles.ci]\ntarget = \"me@example.com\"\ncredentials = {credentials}\n")
    settings = settings_for(path, "ci", dict(target=None, nameservers=["127.0.0.1"], timeout=None, fmt=None,
                                             output=None, ca_file=None, only=["login"], skip=[], fail_on=None,
                                             anonymize=False))
    request = Request(target=settings["target"], nameservers=settings["nameservers"], only=settings["only"],
                      extra=settings["extra"], login=CredentialRequest(**given))
    return make_plan(request, prompt=None).options.credentials


def test_a_profile_names_the_variable_holding_an_oauth2_token(tmp_path, monkeypatch):
    # Given a profile naming the variable that holds an access token (as CI keeps secrets)
    monkeypatch.setenv("CI_MAIL_TOKEN", "ya29.not-a-real-token")
    creds = _login_from_profile(tmp_path, monkeypatch, '{ oauth2_token_env = "CI_MAIL_TOKEN" }')
    # Then the logins use that token, by OAuth 2.0, for the target's address
    assert creds.outgoing.oauth2 and creds.outgoing.password.reveal() == "ya29.not-a-real-token"
    assert creds.outgoing.user == "me@example.com"


def test_a_password_on_the_command_line_wins_over_the_profiles_token(tmp_path, monkeypatch):
    monkeypatch.setenv("CI_MAIL_TOKEN", "ya29.not-a-real-token")
    monkeypatch.setenv("CLI_PW", "s3cret")
    creds = _login_from_profile(tmp_path, monkeypatch, '{ oauth2_token_env = "CI_MAIL_TOKEN" }',
                                password_env="CLI_PW")
    assert not creds.outgoing.oauth2 and creds.outgoing.password.reveal() == "s3cret"
