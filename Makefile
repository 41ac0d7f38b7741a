# The two commands a person needs: `make run` and `make test`. Everything else is setup they share.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint venv images bench clean

run: $(STAMP)
	$(BIN)/clauderon

test: $(STAMP) lint images
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff (style, import order, no private names across modules) and mypy (strict on runtime/ and proxy/).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

# Test images are built offline (debootstrap + docker import), cached by tag; skipped without a Docker engine.
images: $(STAMP)
	$(BIN)/python -m tests.images

# Benchmarks print each figure beside its baseline from the same run; they are never part of `make test`.
bench: $(STAMP) images
	$(BIN)/python bench/create.py
	$(BIN)/python -m bench.startup
	$(BIN)/python -m bench.terminal
	$(BIN)/python bench/proxy.py
	$(BIN)/python -m bench.hooks
	$(BIN)/python bench/chat.py
	$(BIN)/python bench/serve.py
	$(BIN)/python bench/churn.py
	$(BIN)/python bench/soak.py

clean:
	rm -rf $(VENV) .pytest_cache
