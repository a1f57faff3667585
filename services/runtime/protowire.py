"""The two pieces of the protobuf wire format that responses assembled from stored
serialized parts need (services/feed/wire.py, services/notification/messages.py).

A message field is its tag — ``(field number << 3) | wire type`` (0 varint, 1 fixed64,
2 length-delimited) — then its value; a length-delimited value is its length as a varint,
then its bytes. A parser merges repeated occurrences of a field, so a message can be
written as stored parts followed by the fields a read adds.
"""

from __future__ import annotations


def varint(value: int) -> bytes:
    """Unsigned LEB128, as protobuf writes int64/uint64 values that are not negative."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def length_delimited(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field (a message, bytes or a string): tag, length, payload."""
    return tag + varint(len(payload)) + payload
