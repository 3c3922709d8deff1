"""dnspython imported without importlib.metadata: ~10 ms of every diagnosis's start-up.

Importing ``dns.name`` makes dnspython ask ``importlib.metadata`` for the installed idna's version
(``dns._features.have("idna")``), and importing importlib.metadata brings zipfile, csv and
importlib.resources with it, for one answer. Importing this module first gives dnspython that answer
through its own override, ``dns._features.force`` ("for any cases where importlib.metadata is
ineffective"), from idna's own ``__version__`` and dnspython's own requirement and comparison. Meanwhile
``importlib.metadata`` is held by a placeholder that imports the real module on its first use: the
import is deferred, never replaced, so any later user (another feature check, a plugin's entry points)
gets the real module. Anything unexpected (another dnspython layout, no idna) leaves dnspython to
ask importlib.metadata as it always does.

Import it before the first ``import dns.name`` (directly or through ``dns.rdata``, ``dns.reversename``,
``dns.asyncquery``); tests/unit/test_dnsfeatures.py checks that loading every check does. ``dns.query``
(diagnose.net.authoritative, used on some faults) asks about DNS over HTTPS and QUIC as well: that
first question loads the real importlib.metadata, as it would have without this module.
"""

from __future__ import annotations

import sys
import types

METADATA = "importlib.metadata"


class _Deferred(types.ModuleType):
    """``importlib.metadata`` until something uses it: then the real module, imported there."""

    def __getattr__(self, name: str) -> object:
        if name.startswith("__") and name.endswith("__"):  # the import system's probes (__path__, ...)
            raise AttributeError(name)
        return getattr(self.load(), name)

    def load(self) -> types.ModuleType:
        import importlib

        if sys.modules.get(METADATA) is self:
            del sys.modules[METADATA]
        real = importlib.import_module(METADATA)  # sets importlib.metadata to the real module
        self.__dict__.update(real.__dict__)  # a reference taken meanwhile (from importlib import metadata) works on
        return real


def _idna_answer(features: types.ModuleType) -> bool:
    """``have("idna")`` as dnspython computes it, with idna's version read from idna itself."""
    import idna.package_data

    installed = features._tuple_from_text(idna.package_data.__version__)
    return all(installed >= features._tuple_from_text(req.split(">=", 1)[1])
               for req in features._requirements["idna"])


def prepare() -> None:
    if "dns._features" in sys.modules or METADATA in sys.modules:
        return  # too late, or nothing to save
    import importlib

    placeholder = _Deferred(METADATA)
    sys.modules[METADATA] = placeholder
    importlib.metadata = placeholder  # type: ignore[attr-defined]
    try:
        import dns._features as features

        features.force("idna", _idna_answer(features))
    except Exception:  # noqa: BLE001 - any surprise: the real module, and dnspython's own check
        placeholder.load()


prepare()
