PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
TEST_SYSTEM_PACKAGES := chromium chromium-driver fonts-dejavu-core libnss3-tools libzbar0 nginx poppler-utils postgresql
# Compiled catalogues (.mo) are git-ignored build products: one per .po, rebuilt when it changes.
# The demo RP has its own (demo_rp/translations).
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard idp/translations/*/LC_MESSAGES/messages.po \
                                              demo_rp/translations/*/LC_MESSAGES/messages.po))
# Node.js packages of the tests, each pinned by its package-lock.json: openid-client
# (tests/interop) and axe-core (tests/a11y). Reinstalled only when a lock changes or
# node_modules is gone (the stamp lives inside node_modules).
NPM_STAMPS := tests/interop/node_modules/.installed tests/a11y/node_modules/.installed

.PHONY: run test lint bench bench-quick clean install translations screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) translations

# No --use-fuzzy: a fuzzy entry is a guess, never shown to citizens (scripts/update-translations.sh
# refreshes the .po files; tests/test_translations.py keeps them complete).
translations: $(CATALOGUES)

idp/translations/%/LC_MESSAGES/messages.mo: idp/translations/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel --quiet compile --input-file $< --output-file $@ --locale $*

demo_rp/translations/%/LC_MESSAGES/messages.mo: demo_rp/translations/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel --quiet compile --input-file $< --output-file $@ --locale $*

# Ports: make run IDP_PORT=5100 DEMO_RP_PORT=5101 (or in the environment); scripts/run-demo.sh
# registers the demo client for the RP's address, checks both ports and stops both servers.
run: $(STAMP) translations
	scripts/ensure-system-packages.sh --why "idp-mobile reads the login page's QR image with zbar" libzbar0
	scripts/run-demo.sh

# The suite runs twice: on SQLite, then on a throwaway PostgreSQL cluster that
# scripts/with-postgres.sh starts and deletes (tests/conftest.py gives each test its own
# database there). The PostgreSQL pass leaves out tests/e2e and tests/interop: browsers and
# clients against servers from tests/support/live.py, which use SQLite in both passes; and
# tests/test_run_demo.py and tests/test_package.py, which run `make run` and an installed
# wheel on SQLite databases of their own; and the tests of what no database changes, which
# the first pass proves once (PG_PASS_SKIPS: the serving stack and its access log, the
# shipped nginx, the metrics' process handling, the app's command line, files at rest and
# the Host and transport checks made before any query, the demo RP, docs and catalogues, the
# check that pytest-xdist keeps each xdist_group on one worker; and the tests of pure code
# that no test database reaches: passwords, documents, certificates, SMS backends, settings,
# QR images, PDF inspection, the bench's helpers and its in-process SQLite measurement, the
# workers' lazy imports checked on an in-memory database, and what the tests' apps share compiled).
PG_PASS_SKIPS := tests/e2e tests/interop tests/test_run_demo.py tests/test_package.py \
	tests/test_serving.py tests/security/test_access_log.py tests/deploy \
	tests/test_metrics_serving.py tests/mobile/test_idp_mobile.py \
	tests/security/test_files_at_rest.py tests/security/test_hosts.py \
	tests/security/test_transport.py tests/test_dev_certificates.py tests/test_demo_rp.py \
	tests/test_demo_rp_language.py tests/test_docs_links.py tests/test_translations.py \
	tests/test_architecture.py tests/test_system_packages.py tests/test_xdist_groups.py \
	tests/test_passwords.py tests/test_documents.py tests/test_certificates.py tests/test_sms.py \
	tests/test_settings.py tests/mobile/test_qr_image.py tests/firma/test_pdf_inspection_fuzz.py \
	tests/bench/test_bench_helpers.py tests/bench/test_tokencpu.py \
	tests/firma/test_worker_memory.py tests/passkeys/test_worker_memory.py tests/test_compiled_once.py
test: $(STAMP) translations $(NPM_STAMPS)
	scripts/ensure-system-packages.sh --why "the browser tests drive Chromium, the second pass runs \
		on PostgreSQL, idp-mobile reads QR images with zbar, tests/deploy runs the shipped nginx \
		configuration and poppler's pdfsig (with NSS's certutil) validates Cl@ve Firma \
		signatures" $(TEST_SYSTEM_PACKAGES)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup
	scripts/with-postgres.sh $(BIN)/python -m pytest -q -n 2 --dist loadgroup \
		$(addprefix --ignore=,$(PG_PASS_SKIPS))

# Without npm this only warns: without node those tests skip; with node they ask for npm.
tests/%/node_modules/.installed: tests/%/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix tests/$* --no-audit --no-fund && touch $@; \
	else echo "npm not found: tests/$* will be skipped"; fi

# Benchmarks report figures, never fail a test; make test does not run them.
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) translations
	$(BIN)/python -m bench run
	$(BIN)/python -m bench servers

bench-quick: $(BENCH_STAMP) translations
	$(BIN)/python -m bench run --quick
	$(BIN)/python -m bench servers --quick

# Every page of the tour in tests/e2e/tour.py, desktop and phone, Spanish and English.
screenshots: $(STAMP) translations
	scripts/ensure-system-packages.sh --why "headless Chromium renders the pages" \
		chromium chromium-driver fonts-dejavu-core
	$(BIN)/python -m tests.e2e.screenshots docs/screenshots

lint: $(STAMP)
	$(BIN)/ruff check idp demo_rp tests bench

clean:
	rm -rf $(VENV) instance .pytest_cache $(CATALOGUES) tests/interop/node_modules tests/a11y/node_modules
