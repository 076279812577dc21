"""gunicorn settings for one machine (make run) and for each host behind nginx.

Face decisions are CPU-bound (~0.5-1 s of CPU each): sync workers, one per core plus one, so a burst of
实人核验 submissions cannot starve every page worker for long. Size separately, or move decisions to a job
queue, when a deployment needs it (README, "Beyond one machine").
"""
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() + 1))
worker_class = "sync"
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Load the app (and face_recognition's models) once in the master; workers share the pages copy-on-write.
preload_app = True
