"""Accounting (issue 13 §4): the accountant's daily reconciliation with each gateway, receipts, the refund
worklist. Depends on payments (reads its models; never changes payments.services)."""
