"""The notifications' desk pages: the SMS outbox (outbox.py), its backlog and alert label (backlog.py) and
its sidebar item (nav.py). notifications/admin.py imports the pages so that autodiscovery registers them."""
