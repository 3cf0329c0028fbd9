"""closeloop: self-hosted customer feedback management."""

__version__ = "0.1.0"
