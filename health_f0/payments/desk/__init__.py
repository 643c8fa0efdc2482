"""The payments desk: payments (read-only; refund by hand), the gateways' answers log, each facility's gateway
accounts (keys write-only) and each service's price and prepayment rule."""

from health_f0.payments.desk import accounts, payments  # noqa: F401
