"""`maildoctor serve`: the diagnosis as a web page for a helpdesk (Starlette on uvicorn).

A form starts a run, a live page follows it through Server-Sent Events fed by the same event stream
the CLI and the TUI observe, and the finished report (the HTML renderer's, downloads in every
format) is kept in SQLite under a permanent link. Security lives in ``security`` (who may use it,
CSRF, CSP, rate limits) and in ``diagnose.net.guard`` (which addresses a run may connect to).
Imported only by ``maildoctor serve`` (diagnose.app.cli, lazily): Starlette is an optional extra.
"""
