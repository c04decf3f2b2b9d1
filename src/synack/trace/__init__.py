"""Trace records and renderers (ladder diagrams, pcap)."""
