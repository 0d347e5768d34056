"""Navreme: proactive, integrated, omni-channel public services."""

__version__ = "0.1.0"
