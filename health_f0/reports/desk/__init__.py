"""The desk pages of this domain (see docs/architecture.md)."""
