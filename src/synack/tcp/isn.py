"""Initial sequence number selection (RFC 9293 3.4.1; RFC 6528).

ISN = M + F(localip, localport, remoteip, remoteport, secretkey) mod 2**32,
where M is a clock that ticks once every ``tick`` microseconds (MUST-8: a
clock-driven ISN) and F is a keyed hash, BLAKE2s with a 4-byte digest, so
that ISNs of different connections cannot be predicted from one another
(MUST-9, SHLD-1).  The secret is injected by the caller; this module draws
no randomness and reads no clock (``now`` is passed in).
"""

from __future__ import annotations

import hashlib
import struct
from ipaddress import IPv4Address, IPv6Address

from synack.tcp.seq import Seq

Address = IPv4Address | IPv6Address

_PORTS = struct.Struct("!HH")
_MAX_KEY = 32  # BLAKE2s key size limit


class IsnGenerator:
    """Computes RFC 6528 initial sequence numbers from a secret key.

    Deterministic: the same secret, 4-tuple and ``now`` always give the same
    ISN.  For one 4-tuple the ISN advances by one every ``tick`` microseconds
    (4 us by default, RFC 9293 3.4.1), wrapping modulo 2**32.
    """

    __slots__ = ("_key", "_tick")

    def __init__(self, secret: bytes, tick: int = 4) -> None:
        """``secret`` must be non-empty (RFC 6528 advises >= 16 random bytes); ``tick > 0``.

        A secret longer than 32 bytes is first hashed down to 32 bytes.
        ValueError on a bad argument.
        """
        if not secret:
            raise ValueError("the ISN secret must not be empty")
        if tick <= 0:
            raise ValueError(f"tick must be > 0, not {tick}")
        key = bytes(secret)
        if len(key) > _MAX_KEY:
            key = hashlib.blake2s(key).digest()
        self._key = key
        self._tick = tick

    @property
    def tick(self) -> int:
        """Microseconds per ISN clock increment."""
        return self._tick

    def offset(
        self, local_addr: Address, local_port: int, remote_addr: Address, remote_port: int
    ) -> int:
        """F(localip, localport, remoteip, remoteport, secretkey): a 32-bit keyed hash.

        TypeError if an address is not an ``IPv4Address``/``IPv6Address``;
        ValueError if a port is outside 0..65535.
        """
        if not isinstance(local_addr, IPv4Address | IPv6Address) or not isinstance(
            remote_addr, IPv4Address | IPv6Address
        ):
            raise TypeError("addresses must be IPv4Address or IPv6Address")
        if not (0 <= local_port <= 0xFFFF and 0 <= remote_port <= 0xFFFF):
            raise ValueError(f"ports out of range: {local_port}, {remote_port}")
        digest = hashlib.blake2s(
            b"".join(
                (
                    # The versions make the encoding unambiguous across address families.
                    bytes((local_addr.version, remote_addr.version)),
                    local_addr.packed,
                    remote_addr.packed,
                    _PORTS.pack(local_port, remote_port),
                )
            ),
            key=self._key,
            digest_size=4,
        ).digest()
        return int.from_bytes(digest, "big")

    def isn(
        self,
        local_addr: Address,
        local_port: int,
        remote_addr: Address,
        remote_port: int,
        now: int,
    ) -> Seq:
        """The ISN for this 4-tuple at time ``now`` (integer microseconds): M + F mod 2**32."""
        clock = now // self._tick  # M: one increment per tick (MUST-8)
        return Seq(clock + self.offset(local_addr, local_port, remote_addr, remote_port))
