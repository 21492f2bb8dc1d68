"""Rewrite proton's outgoing frames so that azure-eventhub can decode them.

proton-c omits the trailing null fields of a performative (legal AMQP 1.0), and encodes
an all-null one as ``list0``. azure-eventhub 5.15's decoder indexes fields by position
(``frame[11]`` is a transfer's payload, ``error[2]`` an error's info) and reads any list
that is not ``list32`` as ``list8``. :class:`OutgoingFrames` sits between proton's
output and the socket: it cuts the byte stream into frames and re-encodes each
performative, and the described lists nested in it (errors, outcomes, termini), with all
of their fields. It also sets what proton's Python API cannot: the offered capabilities of
our attach frames (:attr:`OutgoingFrames.offers`) and the exact ``idle-time-out`` of our
open (:attr:`OutgoingFrames.idle_time_out_ms`; proton advertises half of the timeout it
enforces, the service advertises the one it enforces).
"""

from __future__ import annotations

import struct

from ._codec import decode_value, skip_value

__all__ = ["FIELD_COUNTS", "OutgoingFrames", "pad_described"]

#: descriptor code -> number of fields of the composite type
FIELD_COUNTS = {
    0x10: 10,  # open
    0x11: 8,  # begin
    0x12: 14,  # attach
    0x13: 11,  # flow
    0x14: 11,  # transfer
    0x15: 6,  # disposition
    0x16: 3,  # detach
    0x17: 1,  # end
    0x18: 1,  # close
    0x1D: 3,  # error
    0x23: 2,  # received
    0x25: 1,  # rejected
    0x27: 3,  # modified
    0x28: 11,  # source
    0x29: 7,  # target
}

_u32 = struct.Struct(">I")
_u64 = struct.Struct(">Q")


def _list(count: int, body: bytes) -> bytes:
    if len(body) + 1 <= 255:
        return bytes((0xC0, len(body) + 1, count)) + body
    return b"\xd0" + _u32.pack(len(body) + 4) + _u32.pack(count) + body


def pad_described(buf: bytes, pos: int) -> tuple[bytes, int, bool]:
    """Re-encode the described value at ``pos`` with every field of known composites.

    Returns the encoded value, the position after the original, and whether it changed.
    """
    end = skip_value(buf, pos)
    marker = buf[pos + 1]
    if marker == 0x53:
        code, vpos = buf[pos + 2], pos + 3
    elif marker == 0x80:
        code, vpos = _u64.unpack_from(buf, pos + 2)[0], pos + 10
    else:
        return buf[pos:end], end, False
    full = FIELD_COUNTS.get(code)
    constructor = buf[vpos]
    if full is None or constructor not in (0x45, 0xC0, 0xD0):
        return buf[pos:end], end, False
    if constructor == 0x45:
        count, ipos = 0, vpos + 1
    elif constructor == 0xC0:
        count, ipos = buf[vpos + 2], vpos + 3
    else:
        count, ipos = _u32.unpack_from(buf, vpos + 5)[0], vpos + 9
    changed = count < full or constructor == 0x45 or marker != 0x53
    parts = []
    for _ in range(count):
        if buf[ipos] == 0x00:
            part, ipos, nested_changed = pad_described(buf, ipos)
            changed = changed or nested_changed
        else:
            start, ipos = ipos, skip_value(buf, ipos)
            part = buf[start:ipos]
        parts.append(part)
    if not changed:
        return buf[pos:end], end, False
    parts.extend([b"\x40"] * (full - count))
    return b"\x00\x53" + bytes((code,)) + _list(max(full, count), b"".join(parts)), end, True


class OutgoingFrames:
    """Cut proton's output into frames and pad each performative (see the module doc)."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._header_left = 8  # the protocol header proton writes first
        #: link name -> encoded offered-capabilities for our attach of that link (used once)
        self.offers: dict[str, bytes] = {}
        #: the idle-time-out our open advertises (``None``: as proton wrote it)
        self.idle_time_out_ms: int | None = None

    def feed(self, data: bytes) -> bytes:
        """Take bytes proton produced; return the bytes to write (whole frames only)."""
        buf = self._pending
        buf += data
        out: list[bytes] = []
        pos = 0
        if self._header_left:
            take = min(self._header_left, len(buf))
            out.append(bytes(buf[:take]))
            self._header_left -= take
            pos = take
        while len(buf) - pos >= 8:
            size = _u32.unpack_from(buf, pos)[0]
            if len(buf) - pos < size:
                break
            out.append(_fix_frame(bytes(buf[pos : pos + size]), self))
            pos += size
        del buf[:pos]
        return b"".join(out)


def _fields(body: bytes) -> list[bytes] | None:
    """The encoded fields of a padded performative (``00 53 code`` and a list)."""
    if body[1] != 0x53 or body[3] not in (0xC0, 0xD0):
        return None
    pos, count = (6, body[5]) if body[3] == 0xC0 else (12, _u32.unpack_from(body, 8)[0])
    items = []
    for _ in range(count):
        end = skip_value(body, pos)
        items.append(body[pos:end])
        pos = end
    return items


def _rewrite(body: bytes, frames: OutgoingFrames) -> bytes:
    """Set our open's idle-time-out, or an attach's offered capabilities, if asked to."""
    code = body[2]
    fields = _fields(body) if code in (0x10, 0x12) else None
    if fields is None:
        return body
    if code == 0x10 and frames.idle_time_out_ms is not None and len(fields) > 4:
        fields[4] = b"\x70" + _u32.pack(frames.idle_time_out_ms)  # a uint (milliseconds)
    elif code == 0x12 and len(fields) > 11:
        name, _ = decode_value(fields[0], 0)
        offered = frames.offers.pop(str(name), None) if isinstance(name, str) else None
        if offered is None:
            return body
        fields[11] = offered
    else:
        return body
    return body[:3] + _list(len(fields), b"".join(fields))


def _fix_frame(frame: bytes, frames: OutgoingFrames) -> bytes:
    doff = frame[4] * 4
    if frame[5] != 0 or len(frame) <= doff or frame[doff] != 0x00:
        return frame  # heartbeat or not an AMQP performative
    body, end, changed = pad_described(frame, doff)
    if body[2] in (0x10, 0x12) and (frames.offers or frames.idle_time_out_ms is not None):
        rewritten = _rewrite(body, frames)
        changed = changed or rewritten is not body
        body = rewritten
    if not changed:
        return frame
    size = doff + len(body) + len(frame) - end
    return _u32.pack(size) + frame[4:doff] + body + frame[end:]
