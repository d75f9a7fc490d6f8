# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
STAMP := $(VENV)/.installed

.PHONY: run test setup install migrate messages makemessages seed lint format check clean bench-pdf bench

run: setup
	@$(VENV)/bin/honcho -f Procfile.dev start

test: install messages
	@mkdir -p var
	$(VENV)/bin/pytest $(PYTEST_ARGS)

setup: install messages
	@mkdir -p var
	$(MANAGE) ensure_database
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo
	$(MANAGE) seed_catalogue
	$(MANAGE) seed_demo_activity

$(PY):
	"$$(scripts/find-python312)" -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

messages: install
	@$(MANAGE) compilemessages --ignore '.venv' -v 0

makemessages: install
	$(MANAGE) makemessages -l zh_Hans -l en --ignore '.venv/*' --ignore 'var/*' --no-obsolete
	$(PY) scripts/fill_en_po.py locale/en/LC_MESSAGES/django.po

# The policy schedule PDF, our light CJK face against a naive WeasyPrint render, in a throwaway
# SQLite database; the report goes to var/bench/policy_pdf.txt. BENCH_ARGS="--runs 15 --fonttools".
bench-pdf: install messages
	@mkdir -p var/bench
	$(PY) scripts/bench_policy_pdf.py $(BENCH_ARGS)

# The pages under load against a minimal view (README, Benchmark): builds the portal_bench
# PostgreSQL database once, serves it with gunicorn, drives each page with locust; the table goes
# to var/bench/load.txt. BENCH_ARGS="--rebuild --run-time 30 --pages minimal,dashboard".
bench: install messages
	@mkdir -p var/bench
	$(PY) scripts/bench/run.py $(BENCH_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MANAGE) makemigrations --check --dry-run

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var staticfiles
