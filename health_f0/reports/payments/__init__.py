"""Payments report (issue 13 §4): paid and refunded amounts per day, gateway and service."""
