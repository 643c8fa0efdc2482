"""Constant SQL of the API's hot path, one module per table (see monitoring/sql/ for the rule)."""
