"""gunicorn settings for one machine (make run) and for each host behind nginx.

Web workers never decide 实人核验: they read frame headers, claim the challenge and queue it for the face workers
(`flask --app app queue worker`, README "Beyond one machine"), so a burst of applicants does not hold a page worker.
Sync workers, one per core plus one: verifications and QR refreshes are mostly CPU (~1.6 ms per scan and ~4 ms per
QR refresh, including PostgreSQL's and Redis' share): on the 2-core bench machine 4 and 5 workers verified no
faster than 3, and 2 were slower (bench/RESULTS.md).
"""
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() + 1))
worker_class = "sync"
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycle a worker now and then in case a library leaks, but rarely: each restart forks a new worker, opens a
# new PostgreSQL backend and re-warms SQLAlchemy's and psycopg's statement caches. At 2000 (before) each worker
# restarted every few seconds under a gate's load and cost ~10 % more CPU per verification (bench/RESULTS.md).
max_requests = 20000
max_requests_jitter = 2000
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Load the app once in the master (wsgi.py also loads the place-name boundaries and Pillow's image readers there);
# the workers share those pages copy-on-write. The face models are loaded by the face workers, not here.
preload_app = True
