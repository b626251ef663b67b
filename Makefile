# Two commands for a fresh clone: `make demo` runs the main job, `make test` the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.cyclr-installed

.PHONY: setup demo test bench docs clean

$(STAMP): pyproject.toml scripts/bootstrap.sh
	VENV=$(VENV) scripts/bootstrap.sh
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/cyclr reproduce --task digits --seeds 3

test: $(STAMP)
	KERAS_BACKEND=torch $(PY) -m pytest -q -n 2

bench: $(STAMP)
	$(PY) benchmarks/bench_schedulers.py
	$(PY) benchmarks/bench_range_test.py
	$(PY) benchmarks/suggest_suite.py --quick --force --out runs/suggest-suite-quick
	$(PY) benchmarks/clr_ceiling.py --tasks digits_mlp,signal1d_cnn,digits_rows_gru,diabetes_mlp --seeds 2 \
		--reuse runs/suggest-suite-quick/results.json --force --out runs/clr-ceiling-quick
	$(PY) benchmarks/sweep_length.py --force --out runs/sweep-length

docs: $(STAMP)
	$(PY) -m mkdocs build --strict

clean:
	rm -rf $(VENV) site docs/generated build *.egg-info src/*.egg-info .pytest_cache .hypothesis
