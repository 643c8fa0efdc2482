"""gunicorn settings for the web process, as measured by bench/declarations.sh (docs/benchmarks.md) and
recommended in docs/operations.md ("Processes"):

    gunicorn health_f0.wsgi:application --config bench/gunicorn_conf.py

Two workers of four threads each (`gthread`): a thread waiting on MariaDB (the commit's flush) leaves the
CPU to another request, and connections are kept alive between requests (`sync` workers close each one).
`sync` workers did clearly worse in the load test; 2 and 8 threads, tried once each under a heavier load,
did not beat 4.

Each worker listens on its own socket (`reuse_port`, SO_REUSEPORT): the kernel spreads new connections over the
workers by a hash of their addresses. On one shared socket the worker that won `accept` kept every keep-alive
connection it took, busy or not, and a gthread worker accepts while its threads are busy: in 2 of 5 load runs
all 16 of wrk's connections sat on one worker, which ran them on one core under its GIL while the other core
stayed 28 % idle (the booking desk's list 267–271 req/s, against 390–420 with the connections spread;
docs/benchmarks.md, "eleventh round"). A reverse proxy's keep-alive connections to the workers pin the same way.

The access log (when enabled, e.g. `--access-logfile -` in scripts/run.sh) records the path without its query
string and without the referrer: search terms typed in the desk (names, phone numbers, CCCD) are personal
data and live only in the audit log.
"""

bind = "127.0.0.1:8000"
workers = 2
worker_class = "gthread"
threads = 4
keepalive = 5  # seconds an idle keep-alive connection is held open (gunicorn's default: 2)
reuse_port = True  # one listening socket per worker, connections spread by the kernel (above)
# address, time, "METHOD /path PROTOCOL", status, bytes, milliseconds: never %(r)s, %(q)s or %(f)s.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'


def post_worker_init(worker: object) -> None:
    """Once the worker has loaded the application: import every view (the URLconf) and move what is loaded so far
    into the collector's permanent generation (`gc.freeze`), so a full collection no longer walks the
    application's own ~170,000 long-lived objects (a 100-340 ms pause on one request every few thousand;
    docs/benchmarks.md, "eighth round"). Requests' own cycles are cut when their response is closed
    (health_f0/core/cycles.py)."""
    import gc

    from django.conf import settings

    if settings.configured:  # the application is Django's (bench/servers.py also serves a bare WSGI app)
        from django.urls import get_resolver

        get_resolver().url_patterns  # noqa: B018 - imports the views' modules
    gc.collect()
    gc.freeze()
