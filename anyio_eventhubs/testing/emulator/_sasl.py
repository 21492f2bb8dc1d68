"""The server side of the SASL layer, handled on the bytes before proton sees them.

Event Hubs clients always negotiate SASL (ANONYMOUS; the token follows over CBS). The
emulator offers ANONYMOUS and PLAIN, accepts any ``sasl-init`` and answers ``ok`` at
once. The AMQP bytes that follow go to a proton transport configured without SASL, so
proton never writes a SASL frame (whose trailing nulls would confuse azure-eventhub).
A client that skips SASL and opens with the plain AMQP header is passed straight through.
"""

from __future__ import annotations

import struct

from ._codec import decode_value, encode_symbol

__all__ = ["AMQP_HEADER", "SASL_HEADER", "SaslHandshake"]

SASL_HEADER = b"AMQP\x03\x01\x00\x00"
AMQP_HEADER = b"AMQP\x00\x01\x00\x00"
_MECHANISMS = ("ANONYMOUS", "PLAIN")
_u32 = struct.Struct(">I")


def _sasl_frame(body: bytes) -> bytes:
    return _u32.pack(8 + len(body)) + b"\x02\x01\x00\x00" + body


def _mechanisms_frame() -> bytes:
    symbols = b"".join(encode_symbol(m)[1:] for m in _MECHANISMS)  # array: shared 0xa3
    array = bytes((0xE0, 2 + len(symbols), len(_MECHANISMS), 0xA3)) + symbols
    return _sasl_frame(b"\x00\x53\x40" + bytes((0xC0, 1 + len(array), 1)) + array)


_MECHANISMS_FRAME = _mechanisms_frame()
# sasl-outcome: code ok (ubyte 0), additional-data null
_OUTCOME_OK = _sasl_frame(b"\x00\x53\x44\xc0\x03\x02\x50\x00\x40")


class SaslHandshake:
    """Feed the first bytes of a connection; learn what to answer and what is AMQP."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._header_seen = False
        #: True once the handshake is over (successfully or not)
        self.done = False
        #: True if the client spoke neither SASL nor AMQP (the connection should close)
        self.failed = False
        self.mechanism: str | None = None
        self.user: str | None = None

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """Return ``(reply, amqp_bytes)``: bytes to send, bytes left for the AMQP layer.

        A malformed ``sasl-init`` sets :attr:`failed` (the connection should close).
        """
        buf = self._buf
        buf += data
        reply = b""
        if not self._header_seen:
            if len(buf) < 8:
                return b"", b""
            header = bytes(buf[:8])
            if header == AMQP_HEADER:
                self.done = True
                rest = bytes(buf)
                buf.clear()
                return b"", rest
            del buf[:8]
            self._header_seen = True
            if header != SASL_HEADER:
                self.done = self.failed = True
                return SASL_HEADER, b""
            reply = SASL_HEADER + _MECHANISMS_FRAME
        if len(buf) < 8:
            return reply, b""
        size = _u32.unpack_from(buf, 0)[0]
        if len(buf) < size:
            return reply, b""
        body = bytes(buf[buf[4] * 4 : size])
        rest = bytes(buf[size:])
        buf.clear()
        self.done = True
        try:
            self._read_init(body)
        except (ValueError, IndexError):
            self.failed = True
            return reply, b""
        return reply + _OUTCOME_OK, rest

    def _read_init(self, body: bytes) -> None:
        if body[:3] != b"\x00\x53\x41":
            raise ValueError("expected sasl-init")
        fields, _ = decode_value(body, 3)
        if fields:
            self.mechanism = str(fields[0])
        if self.mechanism == "PLAIN" and len(fields) > 1 and isinstance(fields[1], bytes):
            parts = fields[1].split(b"\x00")
            if len(parts) == 3:
                self.user = parts[1].decode("utf-8", "replace")
