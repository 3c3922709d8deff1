"""The routes of `maildoctor serve` (Starlette). ``create_app`` is the one factory: the server and
the tests build the app the same way.

    GET  /                      the form                POST /run         start a diagnosis -> /r/ID
    GET  /r/ID                  live page, then the report (the permanent link)
    GET  /r/ID/events           the run's Server-Sent Events
    GET  /r/ID/download/FORMAT  the report in any --format
    GET  /history?q=DOMAIN      the stored reports       GET/POST /login   the token, once per browser
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request as HttpRequest
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from diagnose.app.plan import PlanError
from diagnose.engine.report import Report
from diagnose.web import pages
from diagnose.web.form import MAX_FORM, Fields, make_form_plan, name_refused, one, parse_form
from diagnose.web.runs import Busy, Runs
from diagnose.web.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    Guard,
    RateLimit,
    csp,
    csrf_ok,
    new_csrf,
    session_cookie,
    style_hash,
    valid_token,
)
from diagnose.web.settings import ServeSettings
from diagnose.web.store import PAGE, History
from reports import EXTENSIONS, MEDIA_TYPES, RENDERERS, renderer

STATIC = Path(__file__).parent / "static"
_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
REPORT_CSP = csp((style_hash(pages.REPORT_CSS),))


@dataclass
class Context:
    settings: ServeSettings
    history: History
    runs: Runs
    limit: RateLimit
    families: tuple[str, ...]


def create_app(settings: ServeSettings, history: History | None = None) -> Starlette:
    history = history or History(settings.db, settings.keep_days)
    ctx = Context(settings, history, Runs(history, max_runs=settings.max_runs, queue=settings.queue,
                                          allow_private=settings.allow_private),
                  RateLimit(settings.rate), check_families())

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async def expire() -> None:  # retention: once an hour (and at start, in History())
            while True:
                await asyncio.sleep(3600)
                history.expire()

        janitor = asyncio.create_task(expire())
        try:
            yield
        finally:
            janitor.cancel()
            await ctx.runs.close()
            history.close()

    def bind(handler):  # type: ignore[no-untyped-def]
        async def endpoint(request: HttpRequest) -> Response:
            return await handler(ctx, request)
        return endpoint

    routes = [
        Route("/", bind(home), methods=["GET"]),
        Route("/run", bind(start_run), methods=["POST"]),
        Route("/r/{run_id}", bind(show_run), methods=["GET"]),
        Route("/r/{run_id}/events", bind(run_events), methods=["GET"]),
        Route("/r/{run_id}/download/{fmt}", bind(download), methods=["GET"]),
        Route("/history", bind(history_list), methods=["GET"]),
        Route("/login", bind(login_form), methods=["GET"]),
        Route("/login", bind(login), methods=["POST"]),
        Route("/healthz", bind(healthz), methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(Guard, settings)], lifespan=lifespan,
                    max_body_size=MAX_FORM)
    app.state.ctx = ctx
    return app


def check_families() -> tuple[str, ...]:
    """The installed checks' families (dns, mx, tls, ...) for the form, without importing them."""
    from diagnose.engine.registry import describe

    infos, _problems = describe()
    return tuple(sorted({c.id.split(".")[0] for c in infos}))


# -- pages ------------------------------------------------------------------------------------------
def html(body: str, status: int = 200, *, csrf: str = "", headers: dict[str, str] | None = None) -> HTMLResponse:
    response = HTMLResponse(body, status_code=status, headers={"cache-control": "no-store", **(headers or {})})
    if csrf:
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", path="/")
    return response


def csrf_for(request: HttpRequest) -> tuple[str, str]:
    """(the CSRF value for the form, the value to set as cookie, or "" when the browser has it)."""
    have = request.cookies.get(CSRF_COOKIE, "")
    if re.fullmatch(r"[A-Za-z0-9_-]{20,64}", have):
        return have, ""
    fresh = new_csrf()
    return fresh, fresh


def private_note(ctx: Context) -> str:
    if ctx.settings.allow_private:
        return "This server may connect to private and loopback addresses (--allow-private)."
    return ("This server diagnoses public mail domains only: it does not connect to private, loopback, "
            "link-local or its own addresses.")


async def home(ctx: Context, request: HttpRequest) -> Response:
    token, cookie = csrf_for(request)
    return html(pages.form_page(token, ctx.families, private_note=private_note(ctx)), csrf=cookie)


async def read_form(request: HttpRequest) -> dict[str, list[str]] | None:
    """The urlencoded form (None when it is not one or too large); passwords stay in this dict only."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return None
    return parse_form(await request.body())


async def start_run(ctx: Context, request: HttpRequest) -> Response:
    form = await read_form(request)
    if form is None:
        return PlainTextResponse("send the form as application/x-www-form-urlencoded (at most 16 KB)\n", 400)
    if not request.state.bearer and not csrf_ok(request.scope, one(form, "csrf")):
        return PlainTextResponse("the form is stale or came from another site (CSRF check failed): reload the "
                                 "page and try again\n", 403)
    fields, password = Fields.of(form, ctx.families), one(form, "password")
    del form  # the password's only other copy
    token, cookie = csrf_for(request)

    def refuse(message: str, status: int = 400, headers: dict[str, str] | None = None) -> Response:
        again = pages.form_page(token, ctx.families, error=message, target=fields.target, user=fields.user,
                                chosen=fields.checks, selectors=fields.selectors, roundtrip=fields.roundtrip,
                                secret_kind=fields.secret_kind, private_note=private_note(ctx))
        return html(again, status, csrf=cookie, headers=headers)

    why = None if ctx.settings.allow_private else name_refused(fields.target)
    if why:
        return refuse(why)
    wait = ctx.limit.allow(request.state.client_key)
    if wait:
        return refuse(f"Too many diagnoses from you: wait {wait:.0f} s", 429, {"retry-after": str(int(wait) + 1)})
    try:
        plan = make_form_plan(ctx.settings, fields, password)
    except PlanError as exc:
        return refuse(str(exc))
    finally:
        del password
    try:
        run = ctx.runs.start(plan, request.state.client_key)
    except Busy as exc:
        return refuse(str(exc), 503)
    return RedirectResponse(f"/r/{run.id}", status_code=303)


async def show_run(ctx: Context, request: HttpRequest) -> Response:
    run_id = request.path_params["run_id"]
    if not _RUN_ID.match(run_id):
        return not_found()
    run = ctx.runs.get(run_id)
    stored = ctx.history.report(run_id)
    if stored is None:
        if run is None:
            return not_found()
        return html(pages.live_page(run.id, run.target))  # running, or it failed: the page replays why
    entry, text = stored
    body = pages.report_page(renderer("html")(stored_report(text)), entry.id, entry.domain)
    return html(body, headers={"content-security-policy": REPORT_CSP})


def stored_report(text: str) -> Report:
    """A report of the history back as the model (the JSON our own renderer wrote: no need for the
    defences diagnose.engine.saved has against foreign files)."""
    return Report.from_dict(json.loads(text))


async def run_events(ctx: Context, request: HttpRequest) -> Response:
    run_id = request.path_params["run_id"]
    run = ctx.runs.get(run_id) if _RUN_ID.match(run_id) else None
    if run is None:
        stored = ctx.history.report(run_id) if _RUN_ID.match(run_id) else None
        if stored is None:
            return not_found()
        entry = stored[0]  # finished long ago: say where the report is
        done = json.dumps({"headline": entry.headline, "verdict": entry.verdict, "words": "",
                           "report": f"/r/{entry.id}", "refused": []})
        stream = iter([f"event: done\ndata: {done}\n\n", "event: end\ndata: {}\n\n"])
        return StreamingResponse(stream, media_type="text/event-stream", headers=_SSE_HEADERS)
    last = request.headers.get("last-event-id", "")
    after = int(last) if last.isdigit() else -1
    return StreamingResponse(ctx.runs.follow(run, after), media_type="text/event-stream", headers=_SSE_HEADERS)


_SSE_HEADERS = {"cache-control": "no-store", "x-accel-buffering": "no"}


async def download(ctx: Context, request: HttpRequest) -> Response:
    run_id, fmt = request.path_params["run_id"], request.path_params["fmt"]
    stored = ctx.history.report(run_id) if _RUN_ID.match(run_id) else None
    if stored is None or fmt not in RENDERERS:
        return not_found()
    entry, text = stored
    body = text if fmt == "json" else renderer(fmt)(stored_report(text))
    media = MEDIA_TYPES[fmt]
    safe_domain = re.sub(r"[^a-z0-9.-]", "_", entry.domain.lower())[:80]
    name = f"maildoctor-{safe_domain}-{run_id[:8]}.{EXTENSIONS[fmt]}"
    headers = {"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"}
    if fmt == "html":
        headers["content-security-policy"] = REPORT_CSP
    return Response(body, media_type=f"{media}; charset=utf-8", headers=headers)


async def history_list(ctx: Context, request: HttpRequest) -> Response:
    query = request.query_params.get("q", "")[:253]
    page_text = request.query_params.get("page", "0")
    page_no = min(int(page_text), 10_000) if page_text.isdigit() else 0
    rows = ctx.history.search(query, page=page_no)
    return html(pages.history_page(rows[:PAGE], query, page_no, len(rows) > PAGE))


async def login_form(ctx: Context, request: HttpRequest) -> Response:
    if ctx.settings.token is None:
        return RedirectResponse("/", status_code=303)
    token, cookie = csrf_for(request)
    return html(pages.login_page(token), csrf=cookie)


async def login(ctx: Context, request: HttpRequest) -> Response:
    if ctx.settings.token is None:
        return RedirectResponse("/", status_code=303)
    form = await read_form(request)
    token, cookie = csrf_for(request)
    if form is None or not csrf_ok(request.scope, one(form, "csrf")):
        return html(pages.login_page(token, "The form is stale: try again."), 403, csrf=cookie)
    wait = ctx.limit.allow("login:" + request.state.client_key)  # guessing the token is rate-limited too
    if wait or not valid_token(ctx.settings, one(form, "token")):
        return html(pages.login_page(token, f"Too many attempts: wait {wait:.0f} s" if wait else
                                     "That is not the access token."), 429 if wait else 401, csrf=cookie)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, session_cookie(ctx.settings), max_age=SESSION_MAX_AGE, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    return response


async def healthz(ctx: Context, request: HttpRequest) -> Response:
    return PlainTextResponse("ok\n")


def not_found() -> Response:
    return html(pages.message_page("Not found", "No such report: it may have expired (see the history)."), 404)


__all__ = ["create_app"]
