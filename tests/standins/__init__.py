"""Local stand-ins for the outside services the product talks to (SMS gateways)."""
