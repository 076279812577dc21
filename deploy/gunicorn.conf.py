"""gunicorn settings for one machine (make run) and for each host behind nginx.

Face decisions are CPU-bound (~0.5-1 s of CPU each): sync workers, one per core plus one, so a burst of
实人核验 submissions cannot starve every page worker for long. Size separately, or move decisions to a job
queue, when a deployment needs it (README, "Beyond one machine"). Verifications and QR refreshes are mostly CPU
too (~1.6 ms per scan and ~4 ms per QR refresh, including PostgreSQL's and Redis' share): on the 2-core bench
machine 4 and 5 workers verified no faster than 3, and 2 were slower (bench/RESULTS.md).
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
# Load the app (and face_recognition's models) once in the master; workers share the pages copy-on-write.
preload_app = True
