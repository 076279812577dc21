# Suishen: two commands on a fresh machine.
#   make run   - venv, runtime install (requirements.txt), migrate, demo data and logins, serve on
#                http://$(HOST):$(PORT) (default 127.0.0.1:8000) with gunicorn and the face workers (Huey
#                consumer, one per core; queue in instance/queue.db, no Redis needed)
#   make test  - the same install plus the test tools (requirements-dev.txt), then `ruff check` and the whole
#                suite (SQLite + PostgreSQL + headless Chromium)
#   make lock  - re-pin constraints.txt (the exact version of every package, transitively) with pip-compile in a
#                throw-away venv; `make lock UPGRADE=1` moves every pin to the newest version the ranges allow
# `make run PORT=8080 HOST=0.0.0.0` serves elsewhere; BASE_URL (the origin put into QR codes) follows
# HOST:PORT unless set in the environment.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# Two stamps: the runtime install (what `make run` needs) and the test tools on top (what `make test` needs).
# Each is redone when its requirements file changes; the dev stamp also when the runtime one is redone.
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
HOST   ?= 127.0.0.1
PORT   ?= 8000
export BASE_URL ?= http://$(HOST):$(PORT)
# requirements*.txt hold the ranges; constraints.txt the exact versions every install takes (reproducible).
CONSTRAINTS := constraints.txt
LOCK_VENV := $(or $(TMPDIR),/tmp)/suishen-lock-venv
PIP_TOOLS := pip-tools==7.4.1

# The English catalogue: the .po is the source (committed), the .mo the app reads is compiled here (not committed:
# one source of truth, nothing binary to merge). `make messages` after marking new text (webapp/web/i18n.py).
CATALOGUE := webapp/translations/en/LC_MESSAGES/messages

.PHONY: run test install install-dev browser migrate demo bench clean lock messages

$(RUN_STAMP): requirements.txt $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "pip<25"
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -r requirements.txt
	# face_recognition's own metadata asks for dlib (an 11-minute compile); dlib-bin provides it prebuilt.
	$(BIN)/python -m pip install -q --no-deps face-recognition==1.3.0
	# setuptools >= 82 makes `import face_recognition` quit() with exit 0: prove the import really works.
	$(BIN)/python -c "import face_recognition; print('face_recognition', face_recognition.__version__, 'ok')" | grep -q ok
	touch $@

$(DEV_STAMP): $(RUN_STAMP) requirements-dev.txt $(CONSTRAINTS)
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -r requirements-dev.txt
	touch $@

$(CATALOGUE).mo: $(CATALOGUE).po | $(RUN_STAMP)
	$(BIN)/pybabel -q compile --statistics -d webapp/translations

install: $(RUN_STAMP) $(CATALOGUE).mo

install-dev: $(DEV_STAMP) $(CATALOGUE).mo

# Every string marked for translation (templates, Python `_l`, scripts) into the .po; new ones come untranslated
# and tests/unit/test_catalogue.py fails until each has its English.
messages: $(RUN_STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k _l --add-location=file --sort-output --no-wrap \
		-o webapp/translations/messages.pot .
	$(BIN)/pybabel -q update --no-fuzzy-matching --no-wrap --ignore-obsolete -i webapp/translations/messages.pot \
		-d webapp/translations
	rm webapp/translations/messages.pot

instance/secret_key: | $(RUN_STAMP)
	mkdir -p instance
	umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(48))" > $@

# VAPID keys for Web Push to the installed PWA, made once (like the secret key) and kept out of git.
# The app reads instance/secret_key and instance/vapid.env itself (webapp/config.py): nothing to export.
instance/vapid.env: | $(RUN_STAMP) instance/secret_key
	umask 077 && $(BIN)/flask --app app push vapid-keys > $@.tmp && mv $@.tmp $@

browser:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }
	@test -x /usr/bin/chromium || { echo "Debian's chromium is needed at /usr/bin/chromium (apt-get install chromium)"; exit 1; }

migrate: install instance/secret_key
	$(BIN)/flask --app app db upgrade

# Demo citizens and licences, a demo citizen account and one officer per role; prints their logins.
demo: migrate
	SUISHEN_DEMO=1 $(BIN)/flask --app app registry demo

# The private keys that sign the QR tokens (offline verification, issue 17): the first one is made once, like the
# secret key, in instance/signing_keys/ (mode 600); `flask --app app keys rotate` adds the next.
instance/signing_keys: | $(RUN_STAMP) instance/secret_key
	$(BIN)/flask --app app keys init

# The demo logins are printed last, right before the server starts.
run: instance/vapid.env instance/signing_keys demo $(CATALOGUE).mo
	SUISHEN_DEMO=1 $(BIN)/python scripts/serve.py --bind $(HOST):$(PORT)

test: install-dev browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-dev
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python bench/liveness.py
	$(BIN)/python bench/frames_request.py
	$(BIN)/python bench/liveness_endpoint.py 6 --workers 1 --preload-engine --env SUISHEN_QUEUE_URL=immediate://
	$(BIN)/python bench/liveness_endpoint.py 6 --queue redis://127.0.0.1:6379/13
	$(BIN)/python bench/liveness_eval.py
	$(BIN)/python bench/http_load.py
	$(BIN)/python bench/queue_latency.py
	$(BIN)/python bench/proofing_load.py --record
	$(BIN)/python bench/offline.py --record
	# Lighthouse is not installed by the project: $$LIGHTHOUSE or `npx --no-install lighthouse`, else it says so and skips.
	$(BIN)/python bench/lighthouse.py --record

# pip-compile keeps each pin that still fits the ranges (add a package, change a range: only that moves) unless
# UPGRADE=1. pip and setuptools are pinned too (--allow-unsafe): setuptools' range is part of the face_recognition
# fix. face-recognition itself is not in the lock (installed with --no-deps above, its version fixed there).
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install -q "pip<25" "$(PIP_TOOLS)"
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile -q --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade) --output-file $(CONSTRAINTS) \
		requirements-dev.txt
	rm -rf $(LOCK_VENV)

clean:
	rm -rf $(VENV) test-results .pytest_cache
