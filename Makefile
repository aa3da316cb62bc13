PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TEST_SYSTEM_PACKAGES := chromium chromium-driver fonts-dejavu-core libzbar0

.PHONY: run test lint bench clean install

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	scripts/ensure-system-packages.sh libzbar0
	$(BIN)/idp init --demo
	scripts/run-demo.sh

test: $(STAMP)
	scripts/ensure-system-packages.sh $(TEST_SYSTEM_PACKAGES)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check idp demo_rp tests

clean:
	rm -rf $(VENV) instance .pytest_cache
