"""The `?` help legend says what the statuses mean as the reports and texts do."""

from diagnose.tui.screens.help import help_text


def test_fail_is_described_as_broken_not_as_mail_never_arriving():
    # a FAIL can be a weak key or a wrong certificate name on a submission port while mail still flows:
    # the legend must not promise more than "broken" (the texts say what each failure stops)
    fail = next(line for line in help_text().plain.splitlines() if " FAIL " in line)
    assert "broken" in fail and "does not get through" not in fail, fail
