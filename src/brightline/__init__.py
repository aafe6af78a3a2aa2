"""Brightline: hold acceptable-use red lines without reading customer data."""

__version__ = "0.1.0"
__all__ = ["__version__"]
