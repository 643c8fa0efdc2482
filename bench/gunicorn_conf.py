"""gunicorn settings for the web process, as measured by bench/declarations.sh (docs/benchmarks.md) and
recommended in docs/operations.md ("Processes"):

    gunicorn health_f0.wsgi:application --config bench/gunicorn_conf.py

Two workers of four threads each (`gthread`): a thread waiting on MariaDB (the commit's flush) leaves the
CPU to another request, and connections are kept alive between requests (`sync` workers close each one).
`sync` workers did clearly worse in the load test; 2 and 8 threads, tried once each under a heavier load,
did not beat 4.

The access log (when enabled, e.g. `--access-logfile -` in scripts/run.sh) records the path without its query
string and without the referrer: search terms typed in the desk (names, phone numbers, CCCD) are personal
data and live only in the audit log.
"""

bind = "127.0.0.1:8000"
workers = 2
worker_class = "gthread"
threads = 4
keepalive = 5  # seconds an idle keep-alive connection is held open (gunicorn's default: 2)
# address, time, "METHOD /path PROTOCOL", status, bytes, milliseconds: never %(r)s, %(q)s or %(f)s.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
