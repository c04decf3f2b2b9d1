"""The one exception the wire codec raises."""


class MalformedPacket(ValueError):
    """Bytes that are not a valid packet of the expected kind.

    ``reason`` is a short machine-friendly tag (``"truncated"``,
    ``"bad-checksum"``, ``"bad-option-length"``, ...) used as a drop reason.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


REASONS = frozenset(
    {
        "truncated",  # shorter than a header or than the length it declares
        "bad-version",  # IP version neither 4 nor 6
        "bad-header-length",  # IPv4 IHL below 5
        "bad-total-length",  # IPv4 total length below the header length
        "bad-ip-checksum",  # IPv4 header checksum
        "not-tcp",  # IP protocol / IPv6 next header is not TCP
        "not-icmp",  # parse_icmp: IP protocol / IPv6 next header is not ICMP(v6)
        "fragment",  # IPv4 MF or fragment offset, IPv6 fragment header
        "bad-data-offset",  # TCP data offset below 5 or past the end
        "bad-checksum",  # TCP checksum (MUST-3)
        "bad-option-length",  # TCP option length illegal (MUST-7)
        "too-long",  # TCP segment over 65535 octets claimed to come over IPv4
    }
)
"""Every ``MalformedPacket.reason`` the codec raises."""
