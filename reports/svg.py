"""The two pictures of the HTML report, as inline SVG (no scripts, no external references).

* ``flow_svg``: your client -> submission server -> recipient MX -> mailbox server -> your client,
  with DNS above (``narrow``: top to bottom with DNS beside, for a phone); each hop is coloured by
  the worst status of its findings (reports.hops).
* ``waterfall_svg``: one row per host (its name above its bars), one bar per phase (DNS, connect,
  greeting, TLS, auth), laid end to end, from ``evidence["timings"]`` (phase -> seconds) when a check records it,
  otherwise from each finding's ``duration_s`` in the phase of its check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from diagnose.engine.model import Finding
from diagnose.knowledge.headers import duration_words
from reports.common import STATUS_WORDS, html_text
from reports.hops import DNS_HOP, FLOW, PHASES, group_by_hop, hop_state, phase_of, port_of

COLOURS = {  # stroke, fill
    "pass": ("#2e7d32", "#e8f5e9"), "skip": ("#757575", "#f5f5f5"), "warn": ("#b26a00", "#fff4e0"),
    "error": ("#8e24aa", "#f6e8fa"), "fail": ("#c62828", "#fdecea"), "none": ("#9e9e9e", "#ffffff"),
}
PHASE_COLOURS = {"DNS": "#5c6bc0", "connect": "#26a69a", "greeting": "#8d6e63", "TLS": "#ef6c00", "auth": "#ab47bc"}


def _counts(findings: list[Finding]) -> str:
    if not findings:
        return "not tested"
    parts = []
    for s in ("fail", "error", "warn", "pass", "skip"):
        n = sum(1 for f in findings if f.status.value == s)
        if n:
            parts.append(f"{n} {s}")
    return ", ".join(parts)


def _box(x: int, y: int, w: int, h: int, title: str, line2: str, findings: list[Finding] | None) -> str:
    key = hop_state(findings or [])
    stroke, fill = COLOURS[key]
    word = STATUS_WORDS.get(key, "NOT TESTED") if findings is not None else ""
    tooltip = f"{title}: {word} ({_counts(findings)})" if findings is not None else title
    parts = [
        f'<g class="hop hop-{key}"><title>{html_text(tooltip, newlines=False)}</title>',
        f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="{fill}" stroke="{stroke}" '
        f'stroke-width="{3 if findings else 1.5}"/>',
        f'<text x="{x + w // 2}" y="{y + 20}" text-anchor="middle" font-weight="bold">'
        f"{html_text(title, newlines=False)}</text>",
        f'<text x="{x + w // 2}" y="{y + 37}" text-anchor="middle" font-size="10.5" fill="#555">'
        f"{html_text(line2, newlines=False)}</text>",
    ]
    if findings is not None:
        parts.append(
            f'<text x="{x + w // 2}" y="{y + 56}" text-anchor="middle" font-weight="bold" fill="{stroke}">{word}</text>'
        )
        parts.append(f'<text x="{x + w // 2}" y="{y + 71}" text-anchor="middle" font-size="10" fill="#555">'
                     f'{html_text(_counts(findings), newlines=False)}</text>')
    parts.append("</g>")
    return "".join(parts)


def flow_svg(findings: list[Finding], services: dict[str, tuple[str, ...]], *, narrow: bool = False) -> str:
    """The hops side by side (class "flow"), or, for a phone, top to bottom (class "flow-narrow")."""
    groups = group_by_hop(findings, services)
    boxes = [("Your client", "writes mail", None)] + [(hop.title, hop.role, groups[hop.key]) for hop in FLOW] \
        + [("Your client", "reads mail", None)]
    if narrow:
        w, h, gap, dns_w = 190, 80, 30, 180
        width, height = 10 + w + 34 + dns_w + 10, 10 + len(boxes) * (h + gap) - gap + 10
        spots = [(10, 10 + i * (h + gap)) for i in range(len(boxes))]
    else:
        w, h, gap, top = 172, 80, 26, 120
        width, height = len(boxes) * w + (len(boxes) - 1) * gap + 20, top + h + 20
        spots = [(10 + i * (w + gap), top) for i in range(len(boxes))]
    out = [f'<svg class="{"flow-narrow" if narrow else "flow"}" viewBox="0 0 {width} {height}" '
           f'width="100%" role="img" aria-label="mail flow, each hop marked by the worst status of its checks" '
           f'font-family="sans-serif" font-size="13">',
           f'<defs><marker id="arrow{"-n" if narrow else ""}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    arrow = f'marker-end="url(#arrow{"-n" if narrow else ""})"'
    for (x, y), (title, role, items) in zip(spots, boxes, strict=False):
        out.append(_box(x, y, w, h, title, role, items))
    for x, y in spots[:-1]:
        if narrow:
            out.append(f'<line x1="{x + w // 2}" y1="{y + h}" x2="{x + w // 2}" y2="{y + h + gap - 2}" '
                       f'stroke="#555" stroke-width="2" {arrow}/>')
        else:
            out.append(f'<line x1="{x + w}" y1="{y + h // 2}" x2="{x + w + gap - 2}" y2="{y + h // 2}" '
                       f'stroke="#555" stroke-width="2" {arrow}/>')
    # DNS sits beside the submission -> MX arrow: the sending server looks the MX up there.
    (x1, y1) = spots[1]
    if narrow:
        dns_x, dns_y = x1 + w + 34, y1 + h + gap // 2 - h // 2
        out.append(_box(dns_x, dns_y, dns_w, h, DNS_HOP.title, DNS_HOP.role, groups[DNS_HOP.key]))
        out.append(f'<line x1="{dns_x}" y1="{y1 + h + gap // 2}" x2="{x1 + w // 2 + 4}" y2="{y1 + h + gap // 2}" '
                   f'stroke="#555" stroke-width="1.5" stroke-dasharray="4 3" {arrow}/>')
    else:
        dns_x = x1 + w + gap // 2 - w // 2
        out.append(_box(dns_x, 10, w, h, DNS_HOP.title, DNS_HOP.role, groups[DNS_HOP.key]))
        out.append(f'<line x1="{dns_x + w // 2}" y1="{10 + h}" x2="{dns_x + w // 2}" y2="{y1 + h // 2 - 4}" '
                   f'stroke="#555" stroke-width="1.5" stroke-dasharray="4 3" {arrow}/>')
    out.append("</svg>")
    return "\n".join(out)


def _seconds(evidence: dict, key_ms: str) -> float | None:
    value = evidence.get(key_ms)
    return value / 1000 if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else None


def timings(findings: list[Finding]) -> dict[str, dict[str, float]]:
    """row (an endpoint "host [addr]:port", a host, or "DNS lookups") -> phase -> seconds, each
    row's phases in the order they happened (recorded order; else TLS before the greeting on
    465/993/995, after it elsewhere).

    A check may record ``evidence["timings"]`` (phase -> seconds) and is then drawn as recorded.
    Otherwise: DNS lookups in one row; per endpoint, connect from tcp.connect or the session's
    ``connect_ms``, greeting from ``greeting_delay_ms``, and the rest of the shared session (EHLO, STARTTLS, handshake,
    capabilities) as TLS when the endpoint was tested for TLS."""
    rows: dict[str, dict[str, float]] = {}
    sessions: dict[str, float] = {}
    tls_rows: set[str] = set()
    recorded_rows: set[str] = set()  # drawn in the order recorded (the order the phases happened)
    implicit_rows: dict[str, bool] = {}

    def put(row: str, phase: str, seconds: float) -> None:
        cell = rows.setdefault(row, {})
        cell[phase] = max(cell.get(phase, 0.0), float(seconds))

    for f in findings:
        evidence = f.evidence if isinstance(f.evidence, dict) else {}
        phase = phase_of(f)
        row = f.subject if port_of(f) else ("DNS lookups" if phase == "DNS" else (f.host or f.subject))
        recorded = evidence.get("timings")
        implicit_rows[row] = port_of(f) in IMPLICIT_TLS_PORTS
        if isinstance(recorded, dict):
            recorded_rows.add(row)
            for name, value in recorded.items():
                if name in PHASES and isinstance(value, (int, float)) and value >= 0:
                    put(row, name, value)
            continue
        if phase is None or f.duration_s <= 0:
            continue
        if phase == "DNS":
            put("DNS lookups", "DNS", f.duration_s)
        elif phase == "connect":
            put(row, "connect", f.duration_s)
        else:  # a check reading the shared session: its duration is the whole session
            sessions[row] = max(sessions.get(row, 0.0), f.duration_s)
            connect = _seconds(evidence, "connect_ms")  # the session's own connect (no tcp.connect on 143, 587 ...)
            if connect is not None:
                put(row, "connect", connect)
            greeting = _seconds(evidence, "greeting_delay_ms")
            if greeting is not None:
                put(row, "greeting", greeting)
            if phase in ("TLS", "auth"):
                tls_rows.add(row)
    for row, total in sessions.items():
        cell = rows.setdefault(row, {})
        if "timings" in cell:
            continue
        rest = total - cell.get("connect", 0.0) - cell.get("greeting", 0.0)
        if rest > 0:
            put(
                row,
                "TLS" if row in tls_rows else "greeting",
                rest + (0 if row in tls_rows else cell.get("greeting", 0.0)),
            )
    for row, cell in rows.items():  # pieced together: put the phases in the order they happen
        if row not in recorded_rows:
            order = _happened(implicit_rows.get(row, False))
            rows[row] = {phase: cell[phase] for phase in sorted(cell, key=order.index)}
    return {row: cell for row, cell in rows.items() if cell}


IMPLICIT_TLS_PORTS = (465, 993, 995)


def _happened(implicit_tls: bool) -> tuple[str, ...]:
    """The order of a session's phases: on 465/993/995 TLS comes before the greeting."""
    if implicit_tls:
        return ("DNS", "connect", "TLS", "greeting", "auth")
    return PHASES


def _shorten(name: str, keep: int = 62) -> str:
    """A row label that fits: the middle of a long host name gives way, its address and port stay."""
    return name if len(name) <= keep else name[: keep // 2 - 1] + "…" + name[-(keep - keep // 2):]


def waterfall_svg(findings: list[Finding], *, max_rows: int = 40) -> str:
    """Each row's label above its bar, so the picture stays narrow: readable on a phone once scaled to fit."""
    every = sorted(timings(findings).items(), key=lambda kv: (kv[0] != "DNS lookups", kv[0]))
    if not every:
        return '<p class="muted">No timings were recorded.</p>'
    rows = [Row(host, tuple(cell.items())) for host, cell in every]
    return bars_svg(rows, legend={p: PHASE_COLOURS[p] for p in PHASES}, label="time spent per host and phase",
                    max_rows=max_rows)


@dataclass(frozen=True)
class Row:
    """One row of a bar chart: a label, its segments (name, seconds) laid end to end from ``start``."""

    label: str
    segments: tuple[tuple[str, float], ...]
    start: float = 0.0  # seconds from the chart's origin where the first segment begins
    note: str = ""  # more words for the label line (after the label)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def bars_svg(rows: list[Row], *, legend: dict[str, str], label: str, max_rows: int = 40,
             fmt: Callable[[float], str] = _ms) -> str:
    """Rows of bars on one time axis (the timing waterfall of ``check``, the hop timeline of ``message``),
    each row's label above its bar; segments coloured by ``legend[name]``; server-supplied text escaped."""
    shown = rows[:max_rows]
    width, bar_w, row_h, top = 480, 410, 36, 30
    total = max((r.start + sum(v for _, v in r.segments) for r in shown), default=0.0) or 1.0
    scale = bar_w / total
    height = top + row_h * len(shown) + 30
    out = [
        f'<svg class="waterfall" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{html_text(label, newlines=False)}" font-family="sans-serif" font-size="12">'
    ]
    x: float = 0
    for name, colour in legend.items():
        out.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>'
                   f'<text x="{x + 16}" y="16">{html_text(name, newlines=False)}</text>')
        x += 92
    for i, row in enumerate(shown):
        y = top + i * row_h
        text = _shorten(row.label) + (f" · {row.note}" if row.note else "")
        out.append(f'<text x="0" y="{y + 12}">{html_text(_shorten(text, 78), newlines=False)}</text>')
        x = row.start * scale
        for segment, seconds in row.segments:  # in the order they happened
            w = max(seconds * scale, 1.5)
            tip = f"{row.label}: {segment} {fmt(seconds)}"
            out.append(
                f'<rect x="{x:.1f}" y="{y + 18}" width="{w:.1f}" height="12" fill="{legend.get(segment, "#9e9e9e")}">'
                f"<title>{html_text(tip, newlines=False)}</title></rect>"
            )
            x += w
        out.append(f'<text x="{x + 5:.1f}" y="{y + 28}" fill="#555">'
                   f'{html_text(fmt(sum(v for _, v in row.segments)), newlines=False)}</text>')
    axis_y = top + row_h * len(shown) + 4
    out.append(f'<line x1="0" y1="{axis_y}" x2="{bar_w}" y2="{axis_y}" stroke="#999"/>')
    out.append(
        f'<text x="0" y="{axis_y + 16}" fill="#555">0</text>'
        f'<text x="{bar_w}" y="{axis_y + 16}" text-anchor="end" fill="#555">{html_text(fmt(total), newlines=False)}'
        "</text>"
    )
    out.append("</svg>")
    if len(rows) > max_rows:
        out.append(f'<p class="muted">Showing the first {max_rows} of {len(rows)} rows.</p>')
    return "\n".join(out)


HOP_COLOURS = {"TLS": "#2e7d32", "no TLS": "#c62828", "local": "#757575", "unknown": "#9e9e9e"}


def hop_timeline_svg(findings: list[Finding], *, max_rows: int = 40) -> str:
    """The hops of a message (``message.hops`` evidence) on one time axis, drawn like the waterfall:
    one row per receiving server, its bar the time the message took to reach it from the hop before,
    coloured by the hop's TLS; a hop stamped before the one before it (clock skew) says so."""
    rows: list[Row] = []
    for f in findings:
        hops = f.evidence.get("hops") if f.code == "message.hops" and isinstance(f.evidence, dict) else None
        if not isinstance(hops, list):
            continue
        elapsed = 0.0
        for hop in hops:
            if not isinstance(hop, dict):
                continue
            tls = hop.get("tls")
            kind = "local" if tls == "local" else "TLS" if tls else "no TLS" if hop.get("from") else "unknown"
            delay = hop.get("delay_s")
            delay = float(delay) if isinstance(delay, int | float) and not isinstance(delay, bool) else 0.0
            when = str(hop.get("time_utc") or "time unknown").replace("+00:00", "Z")
            skew = " (clock skew)" if delay < 0 else ""
            rows.append(Row(f"{hop.get('hop', '?')}. {hop.get('by') or '?'}", ((kind, max(delay, 0.0)),),
                            start=elapsed, note=f"+{duration_words(delay)}{skew} · {when}"))
            elapsed += max(delay, 0.0)
        break  # the message's own hops (a returned original's come in a second finding)
    if not rows:
        return '<p class="muted">The message has no Received header: its hops are unknown.</p>'
    return bars_svg(rows, legend=HOP_COLOURS, label="the message's hops over time", max_rows=max_rows,
                    fmt=duration_words)
