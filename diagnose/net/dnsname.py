"""Domain names inside DNS messages (RFC 1035 §4.1.4), without dnspython: for the resolver's lean
message path (diagnose.net.dnswire) and the probe's quick look-up (diagnose.net.quickdns), which
must not import dnspython."""

from __future__ import annotations


class BadName(ValueError):
    """A name that cannot be read from the message."""


def name_wire(wire: bytes, pos: int) -> tuple[bytes, int]:
    """The name at ``pos`` as uncompressed wire and the offset after it in the message. Compression
    pointers must point backwards (dnspython's rule), so the walk ends."""
    labels = []
    end = -1
    size = 0
    limit = pos
    while True:
        if pos >= len(wire):
            raise BadName("the message ends inside a name")
        n = wire[pos]
        if n == 0:
            labels.append(b"\x00")
            if end < 0:
                end = pos + 1
            break
        if n >= 0xC0:
            if pos + 1 >= len(wire):
                raise BadName("the message ends inside a name")
            target = (n & 0x3F) << 8 | wire[pos + 1]
            if end < 0:
                end = pos + 2
            if target >= limit:
                raise BadName("a compression pointer that does not point backwards")
            pos = limit = target
            continue
        if n > 63:
            raise BadName("a label type that is not used")
        label = wire[pos:pos + 1 + n]
        if len(label) != n + 1:
            raise BadName("the message ends inside a name")
        size += n + 1
        if size > 254:
            raise BadName("a name longer than 255 bytes")
        labels.append(label)
        pos += n + 1
    return b"".join(labels), end


def name_text(wire: bytes, pos: int) -> tuple[str, int]:
    """The name at ``pos`` as ASCII text, lower case, without the trailing dot, and the offset after
    it; BadName also for a label that is not ASCII."""
    raw, end = name_wire(wire, pos)
    labels = []
    at = 0
    while raw[at]:
        labels.append(raw[at + 1:at + 1 + raw[at]])
        at += 1 + raw[at]
    try:
        return b".".join(labels).decode("ascii").lower(), end
    except UnicodeDecodeError:
        raise BadName("a label that is not ASCII") from None
