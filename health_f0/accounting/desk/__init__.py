"""The accountant's desk pages: reconciliations, the refund worklist, receipts."""
