"""synack: a userspace TCP in Python (RFC 9293), sans-IO core with drivers."""

__version__ = "0.1.0"
