# legacy-migrate: `make migrate` runs the whole job, `make test` proves it. `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

# Options: PLAN=1 (run up to the gates, publish nothing), ON_MISSING=keep (keep target rows whose legacy row is
# gone), MAX_REJECT_SHARE=0.2 (error budget), MAX_CHANGE_SHARE=0.3 and ALLOW_MASS_CHANGE=1 (mass-change gates),
# WAIT=1 (queue behind a run in progress), KEEP_RUNS=3 (ledger partitions of the last 3 published runs kept, default
# 10), PROFILE/SIZE/SEED (seeder), REPLACE=1 (reseed the demo legacy db).
MIGRATE_ARGS := $(if $(WAIT),--wait) $(if $(PLAN),--dry-run) $(if $(ON_MISSING),--on-missing $(ON_MISSING)) \
	$(if $(MAX_REJECT_SHARE),--max-reject-share $(MAX_REJECT_SHARE)) \
	$(if $(MAX_CHANGE_SHARE),--max-change-share $(MAX_CHANGE_SHARE)) $(if $(ALLOW_MASS_CHANGE),--allow-mass-change) \
	$(if $(KEEP_RUNS),--keep-runs $(KEEP_RUNS))
# ENGINE=pandas runs the pandas transform instead of dbt, ENGINE=dask its rules on a dask cluster (docs/dask-engine.md);
# STRICT_DATES=1 rejects orders dated before their user registered (migrate and transform only).
ENGINE_ARGS := $(if $(ENGINE),--engine $(ENGINE)) $(if $(STRICT_DATES),--strict-dates)
SEED_ARGS := $(if $(PROFILE),--profile $(PROFILE)) $(if $(SIZE),--size $(SIZE)) $(if $(SEED),--seed $(SEED)) $(if $(REPLACE),--replace)

.PHONY: help venv migrate seed schema stage transform publish test lint format db-urls db-stop clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.txt
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 not found: install it or run make PYTHON=/path/to/python3.11" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP) ## create .venv from the pinned requirements

# The seeder fills the embedded demo legacy database when it is empty, and never touches a configured one.
migrate: $(STAMP) ## the whole job: seed the embedded demo if empty, schema, stage, transform, publish, summary
	$(PY) -m seeder --if-empty
	$(PY) -m loader migrate $(MIGRATE_ARGS) $(ENGINE_ARGS)

seed: $(STAMP) ## fill the embedded server's old_bad_db with generated legacy data
	$(PY) -m seeder $(SEED_ARGS)

schema: $(STAMP) ## create or upgrade the target tables (alembic upgrade head)
	$(PY) -m loader schema

stage: $(STAMP) ## copy the legacy tables into new_good_db's staging schema
	$(PY) -m loader stage $(if $(WAIT),--wait)

transform: $(STAMP) ## dbt build: parse, clean, normalize, test
	$(PY) -m loader transform $(if $(WAIT),--wait) $(ENGINE_ARGS)

publish: $(STAMP) ## upsert the dbt marts into the target tables
	$(PY) -m loader publish $(MIGRATE_ARGS)

# The data dictionary: dbt's docs site of the project, its catalog read from the target database (migrate first).
.PHONY: docs
docs: $(STAMP) ## dbt docs generate: the data dictionary site in reports/docs/ (open index.html)
	$(PY) -m loader docs

# The review loop: `make review` writes reports/review.csv (suggested mappings); fill in approved_value, then
# `make review APPLY=reports/review.csv` appends the approved rows to the mapping seeds; `make migrate` uses them.
.PHONY: review
review: $(STAMP) ## the last transform's unknown statuses, categories, countries with suggestions; APPLY=FILE appends
	$(PY) -m loader review $(if $(APPLY),--apply $(APPLY))

# SIZES=10000,100000 (legacy orders per size) replaces the bench's default sizes 10000,100000,1000000.
.PHONY: bench
bench: $(STAMP) ## time each stage against PostgreSQL's bare COPY and INSERT…SELECT; reports/bench/
	$(PY) -m bench $(if $(SIZES),--sizes "$(SIZES)")

test: $(STAMP) ## the test suite, on its own embedded PostgreSQL
	$(PY) -m pytest

lint: $(STAMP) ## ruff, sqlfluff on the dbt project, mypy --strict and the import layers (.importlinter)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	cd dbt_project && ../$(VENV)/bin/sqlfluff lint models macros tests

format: $(STAMP) ## apply ruff's and sqlfluff's fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
	cd dbt_project && ../$(VENV)/bin/sqlfluff fix models macros tests

db-urls: $(STAMP) ## print the URLs of the databases in use (no passwords)
	@$(PY) -m loader db-urls

db-stop: $(STAMP) ## stop the embedded PostgreSQL server
	@$(PY) -m loader db-stop

clean: ## remove the virtual environment, dbt artefacts and reports (keeps .pgdata)
	rm -rf $(VENV) dbt_project/target dbt_project/logs reports

# The seeder's answer key (schema answer_key of the legacy db) against the last published run; reports/score.md.
.PHONY: score
score: $(STAMP) ## grade new_good_db against the seeder's answer key: reports/score.json, reports/score.md
	$(PY) -m seeder score
