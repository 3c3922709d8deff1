"""Mail providers: who hosts a domain's mail, recognised from its DNS, and what the provider documents.

The knowledge is data (``providers.toml`` beside this module, one table per provider with its sources).
More providers come from the entry-point group ``maildoctor.providers``, the way checks come from
``maildoctor.checks``; ours is registered there too (``builtin``). An entry point loads to a mapping
``{id: table}`` in the TOML's schema, a path to such a TOML file, or a callable returning either.

Everything here is pure: ``recognise(signals, providers)`` matches DNS facts someone else looked up.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from diagnose.engine import entrypoints
from diagnose.engine.entrypoints import EntryPointLike

GROUP = "maildoctor.providers"
DATA = Path(__file__).with_name("providers.toml")
KINDS = ("mailbox", "gateway", "sender")
PROTOCOLS = ("IMAP", "POP3", "SMTP")
SECURITIES = ("SSL", "STARTTLS")
IN_USE_SIGNALS = frozenset({"mx", "autodiscover", "dkim"})  # signals that show a provider in use (Match.in_use)


class ProviderDataError(ValueError):
    """A provider table that does not fit the schema."""


@dataclass(frozen=True, eq=False)  # never compared (equal only to itself): no __eq__ to generate at import
class ClientSetting:
    """One server a mail program should use, as the provider documents it."""

    protocol: str  # IMAP, POP3, SMTP
    host: str
    port: int
    security: str  # SSL or STARTTLS


@dataclass(frozen=True, eq=False)
class Provider:
    """One mail provider from the catalogue: how to recognise it, and the records it wants."""

    id: str
    name: str
    kind: str  # mailbox, gateway, sender
    sources: tuple[str, ...]
    mx: tuple[str, ...] = ()
    mx_records: tuple[str, ...] = ()
    spf: tuple[str, ...] = ()
    spf_include: str = ""
    dkim: tuple[str, ...] = ()
    dkim_cname: tuple[str, ...] = ()
    dkim_all: bool = False
    dkim_records: Mapping[str, str] = field(default_factory=dict)
    autodiscover: tuple[str, ...] = ()
    autodiscover_record: str = ""
    autoconfig: tuple[str, ...] = ()
    settings: tuple[ClientSetting, ...] = ()

    def matches(self, what: str, name: str) -> bool:
        """Does host ``name`` match this provider's patterns for ``what`` (mx, spf, dkim_cname, ...)?"""
        name = name.lower().rstrip(".")
        return bool(name) and any(_glob_matches(name, p) for p in getattr(self, what))


def _glob_matches(name: str, pattern: str) -> bool:
    """``fnmatch.fnmatchcase``, without compiling a regular expression (~60 µs each, for every pattern
    of the catalogue on a process's first diagnosis) for the shapes the data mostly uses: a plain name,
    or one ``*`` (any characters, dots and none included) between a plain head and tail."""
    if "?" in pattern or "[" in pattern or pattern.count("*") > 1:
        return fnmatch.fnmatchcase(name, pattern)
    head, star, tail = pattern.partition("*")
    if not star:
        return name == pattern
    return len(name) >= len(head) + len(tail) and name.startswith(head) and name.endswith(tail)


def _strings(table: Mapping[str, Any], key: str, pid: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProviderDataError(f"provider {pid!r}: {key} must be a list of strings")
    return tuple(v.lower() if key not in ("sources", "mx_records", "settings") else v for v in value)


def parse_setting(text: str, pid: str) -> ClientSetting:
    parts = text.split()
    if len(parts) != 4 or parts[0].upper() not in PROTOCOLS or not parts[2].isdigit() \
            or parts[3].upper() not in SECURITIES or not 0 < int(parts[2]) < 65536:
        raise ProviderDataError(f"provider {pid!r}: setting {text!r} is not 'PROTOCOL HOST PORT SSL|STARTTLS'")
    return ClientSetting(parts[0].upper(), parts[1].lower(), int(parts[2]), parts[3].upper())


def make_provider(pid: str, table: Mapping[str, Any]) -> Provider:
    """One provider from its table; ProviderDataError names what is wrong."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", pid):
        raise ProviderDataError(f"provider id {pid!r} must be lowercase letters, digits and _")
    if not isinstance(table, Mapping):
        raise ProviderDataError(f"provider {pid!r}: not a table")
    name, kind = table.get("name"), table.get("kind", "mailbox")
    if not isinstance(name, str) or not name:
        raise ProviderDataError(f"provider {pid!r}: name is missing")
    if kind not in KINDS:
        raise ProviderDataError(f"provider {pid!r}: kind must be one of {', '.join(KINDS)}")
    sources = _strings(table, "sources", pid)
    if not sources:
        raise ProviderDataError(f"provider {pid!r}: give at least one source URL")
    records = table.get("dkim_records", {})
    if not isinstance(records, Mapping) or not all(isinstance(v, str) for v in records.values()):
        raise ProviderDataError(f"provider {pid!r}: dkim_records must map selectors to records")
    for key in ("spf_include", "autodiscover_record"):
        if not isinstance(table.get(key, ""), str):
            raise ProviderDataError(f"provider {pid!r}: {key} must be a string")
    return Provider(
        id=pid, name=name, kind=kind, sources=sources,
        mx=_strings(table, "mx", pid), mx_records=_strings(table, "mx_records", pid),
        spf=_strings(table, "spf", pid), spf_include=table.get("spf_include", "").lower(),
        dkim=_strings(table, "dkim", pid), dkim_cname=_strings(table, "dkim_cname", pid),
        dkim_all=bool(table.get("dkim_all", False)), dkim_records=dict(records),
        autodiscover=_strings(table, "autodiscover", pid), autodiscover_record=table.get("autodiscover_record", ""),
        autoconfig=_strings(table, "autoconfig", pid),
        settings=tuple(parse_setting(s, pid) for s in _strings(table, "settings", pid)),
    )


def parse_providers(data: Mapping[str, Any]) -> list[Provider]:
    return [make_provider(pid, table) for pid, table in data.items()]


def builtin_data() -> dict[str, Any]:
    """The providers shipped with maildoctor (the ``builtin`` entry point)."""
    import tomllib

    return tomllib.loads(DATA.read_text(encoding="utf-8"))


def _from_entry_point(obj: Any) -> Mapping[str, Any]:
    if callable(obj):
        obj = obj()
    if isinstance(obj, (str, Path)):
        import tomllib

        return tomllib.loads(Path(obj).read_text(encoding="utf-8"))
    if isinstance(obj, Mapping):
        return obj
    raise ProviderDataError("it is neither a mapping of provider tables nor a path to a TOML file")


def _loader(ep: EntryPointLike) -> Callable[[], Mapping[str, Any]]:
    return lambda: _from_entry_point(ep.load())


@dataclass(frozen=True, eq=False)
class Catalogue:
    """Every installed provider, and the entries that failed to load."""

    providers: tuple[Provider, ...]
    problems: tuple[str, ...] = ()  # entry points or tables that failed to load (never fatal)

    def get(self, pid: str) -> Provider | None:
        return next((p for p in self.providers if p.id == pid), None)


def load(entry_points: Callable[[], Iterable[EntryPointLike]] | None = None) -> Catalogue:
    """Every installed provider: ours and third parties'; a broken entry is reported, never fatal. A
    provider id given twice keeps its first definition (ours, ``builtin``, sorts first)."""
    eps = sorted(entry_points() if entry_points else entrypoints.entry_points(GROUP),
                 key=lambda e: (e.name != "builtin", e.name))
    sources: list[tuple[str, Callable[[], Mapping[str, Any]]]] = [(ep.name, _loader(ep)) for ep in eps]
    if not any(name == "builtin" for name, _ in sources):  # run from a source tree without its metadata
        sources.insert(0, ("builtin", builtin_data))
    providers: dict[str, Provider] = {}
    problems: list[str] = []
    for name, get in sources:
        try:
            data = get()
        except Exception as exc:  # noqa: BLE001 - a third party's bug must not stop the others
            problems.append(f"provider data {name!r} failed to load: {exc}")
            continue
        for pid, table in data.items():
            try:
                provider = make_provider(str(pid), table)
            except ProviderDataError as exc:
                problems.append(f"provider data {name!r}: {exc}")
                continue
            if provider.id in providers:
                problems.append(f"provider data {name!r}: id {provider.id!r} is already taken, ignored")
                continue
            providers[provider.id] = provider
    return Catalogue(tuple(providers.values()), tuple(problems))


@lru_cache(maxsize=1)
def installed() -> Catalogue:
    """The installed providers, loaded once per process."""
    return load()


# --- recognition --------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Signals:
    """What a domain's DNS says about who runs its mail (names lower-case, without the final dot)."""

    domain: str
    mx: tuple[str, ...] = ()
    spf_includes: tuple[str, ...] = ()  # include/redirect domains of its SPF record (and theirs)
    spf_record: str | None = None  # the apex v=spf1 record; None: none published
    dkim_cnames: Mapping[str, str] = field(default_factory=dict)  # selector -> CNAME target
    dkim_keys: tuple[str, ...] = ()  # selectors with a TXT key (directly or behind the CNAME)
    autodiscover: str = ""  # CNAME target of autodiscover.<domain>
    autodiscover_srv: str = ""  # target of _autodiscover._tcp.<domain> SRV
    autoconfig: str = ""  # CNAME target of autoconfig.<domain>


@dataclass(frozen=True, eq=False)
class Match:
    """A provider and the DNS facts that name it: ``via`` is (signal, value) pairs."""

    provider: Provider
    via: tuple[tuple[str, str], ...]

    def signals(self) -> set[str]:
        return {s for s, _ in self.via}

    @property
    def in_use(self) -> bool:
        """MX, autodiscover or a DKIM CNAME names the provider: an SPF include alone may be a leftover."""
        return bool(self.signals() & IN_USE_SIGNALS)


def recognise(signals: Signals, providers: Iterable[Provider]) -> list[Match]:
    """Pure: every provider some DNS fact points at, in the catalogue's order."""
    out = []
    for p in providers:
        via: list[tuple[str, str]] = []
        via += [("mx", h) for h in signals.mx if p.matches("mx", h)]
        via += [("spf", i) for i in signals.spf_includes if p.matches("spf", i)]
        via += [("dkim", f"{s} -> {t}") for s, t in signals.dkim_cnames.items() if p.matches("dkim_cname", t)]
        for what, value in (("autodiscover", signals.autodiscover), ("autodiscover", signals.autodiscover_srv),
                            ("autoconfig", signals.autoconfig)):
            if value and p.matches(what, value):
                via.append((what, value))
        if via:
            out.append(Match(p, tuple(dict.fromkeys(via))))
    return out


def dashed(domain: str) -> str:
    return domain.replace(".", "-")


def microsoft_tenant(cname_target: str) -> str:
    """The tenant of a Microsoft DKIM CNAME target (selector1-x._domainkey.TENANT.onmicrosoft.com); '' if none."""
    m = re.fullmatch(r"selector\d-[^.]+\._domainkey\.([^.]+)\.onmicrosoft\.com\.?", cname_target.lower())
    return m.group(1) if m else ""


def fill(template: str, domain: str, **values: str) -> str:
    """A record template with its placeholders filled; an unknown one stays visible (``{tenant}``)."""
    known = {"domain": domain, "domain_dashed": dashed(domain), **{k: v for k, v in values.items() if v}}
    return re.sub(r"\{(\w+)\}", lambda m: known.get(m.group(1), m.group(0)), template)


def mx_line(domain: str, record: str, **values: str) -> str:
    """``10 mx.example.`` -> ``example.com. MX 10 mx.example.`` (filled)."""
    return f"{domain}. MX {fill(record, domain, **values)}"
