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
