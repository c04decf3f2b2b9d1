"""The Internet checksum (RFC 1071) and the TCP pseudo-header sums.

The checksum is the ones' complement of the ones' complement sum of the
data taken as big-endian 16-bit words (an odd trailing octet is padded with
a zero octet).  Because 2**16 is congruent to 1 modulo 0xFFFF, that sum is
congruent modulo 0xFFFF to the data read as one big-endian integer, so the
whole buffer is summed by ``int.from_bytes`` and one big-int remainder: no
per-byte or per-word Python loop.  The only subtlety of ones' complement
arithmetic is that a non-zero sum is never 0 but 0xFFFF ("negative zero");
the helpers below keep that distinction.

Partial sums in this module are plain non-negative ints that are congruent
to the ones' complement sum and are zero only when every summed word was
zero; they may be added together freely and reduced with :func:`fold`.
Chunks summed separately must start at even offsets of the whole.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

Address = IPv4Address | IPv6Address
"""An IP address of either family, as used in pseudo-headers and packets."""

Buffer = bytes | bytearray | memoryview

PROTOCOL_TCP = 6
_MODULUS = 0xFFFF


def fold(total: int) -> int:
    """Reduce a non-negative partial sum to its 16-bit ones' complement sum.

    The result is in 0..0xFFFF and is 0 only when ``total`` is 0.
    """
    if total < 0:
        raise ValueError(f"partial sum must be non-negative, got {total}")
    residue = total % _MODULUS
    if residue == 0 and total:
        return _MODULUS
    return residue


def ones_complement_sum(data: Buffer) -> int:
    """The RFC 1071 ones' complement sum of ``data`` as 16-bit words (0..0xFFFF).

    An odd length is treated as if padded with one zero octet.  The result
    is 0 only when all of ``data`` is zero.
    """
    value = int.from_bytes(data, "big")
    residue = value % _MODULUS
    if len(data) & 1:
        # Padding with a zero octet multiplies by 256; do it on the residue
        # instead of shifting the (possibly 64 KiB) big integer.
        residue = (residue << 8) % _MODULUS
    if residue == 0 and value:
        return _MODULUS
    return residue


def internet_checksum(data: Buffer, initial: int = 0) -> int:
    """The RFC 1071 checksum of ``data`` plus the partial sum ``initial``.

    Computing it over data whose checksum field is already filled in gives
    0 exactly when the checksum is correct.
    """
    return _MODULUS - fold(initial + ones_complement_sum(data))


def pseudo_header_sum_ipv4(
    src: IPv4Address, dst: IPv4Address, length: int, protocol: int = PROTOCOL_TCP
) -> int:
    """Partial sum of the IPv4 pseudo-header (RFC 9293 section 3.1, MUST-2/MUST-3).

    The pseudo-header is source, destination, a zero octet, the protocol and
    the 16-bit upper-layer length.
    """
    if not 0 <= length <= 0xFFFF:
        raise ValueError(f"IPv4 upper-layer length out of range: {length}")
    return int(src) + int(dst) + protocol + length


def pseudo_header_sum_ipv6(
    src: IPv6Address, dst: IPv6Address, length: int, next_header: int = PROTOCOL_TCP
) -> int:
    """Partial sum of the IPv6 pseudo-header (RFC 8200 section 8.1).

    The pseudo-header is source, destination (the final destination), the
    32-bit upper-layer packet length, three zero octets and the next header.
    """
    if not 0 <= length <= 0xFFFFFFFF:
        raise ValueError(f"IPv6 upper-layer length out of range: {length}")
    # The 32-bit length is two words whose sum is congruent to the length itself.
    return int(src) + int(dst) + next_header + length


def pseudo_header_sum(src: Address, dst: Address, length: int, protocol: int = PROTOCOL_TCP) -> int:
    """Partial sum of the pseudo-header for the address family of ``src`` and ``dst``."""
    if isinstance(src, IPv4Address) and isinstance(dst, IPv4Address):
        return pseudo_header_sum_ipv4(src, dst, length, protocol)
    if isinstance(src, IPv6Address) and isinstance(dst, IPv6Address):
        return pseudo_header_sum_ipv6(src, dst, length, protocol)
    raise ValueError(f"address families differ: {src} and {dst}")


def tcp_checksum(segment: Buffer, src: Address, dst: Address) -> int:
    """The TCP checksum of the whole ``segment`` (header and payload) between ``src`` and ``dst``.

    Over a segment with its checksum field filled in, 0 means the checksum is correct.
    """
    return internet_checksum(segment, pseudo_header_sum(src, dst, len(segment)))
