# Every target creates .venv by itself, so a fresh clone needs nothing but Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-quick fuzz lint format bench clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/leaktrace demo
	$(BIN)/leaktrace --db demo/leaktrace.duckdb dashboard --port 8501

# Browser tests drive Debian's chromium (Playwright's own browser download is not used);
# evidence reports are printed to PDF by it, with Noto CJK for the Chinese text.
DEBS := chromium fonts-noto-cjk
chromium:
	@{ command -v chromium && fc-list :lang=zh | grep -q .; } >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(DEBS); \
		else sudo apt-get update -qq && sudo apt-get install -y -qq $(DEBS); fi; }

# The test files are spread over one worker per core (a file's tests stay together, so
# its module fixtures are built once): about 6.5 min on 2 cores, against 10 min in one process.
test: $(STAMP) chromium
	$(BIN)/python -m pytest -n auto --dist loadfile

# Leaves out the tests marked slow (over ~3 s each) and the browser tests; the evidence
# pack tests still print PDFs with chromium.
test-quick: $(STAMP) chromium
	$(BIN)/python -m pytest -n auto --dist loadfile -m "not slow and not browser"

# The fuzz properties of tests/test_fuzz_readers.py with 3,000 examples each (make test
# runs 40); prints how many inputs each reader was given.
fuzz: $(STAMP)
	LEAKTRACE_FUZZ_EXAMPLES=3000 $(BIN)/python -m pytest -m fuzz -s -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
