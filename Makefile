# Two commands for a fresh clone: `make demo` runs the main job, `make test` the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.cyclr-installed

.PHONY: setup demo test bench clean

$(STAMP): pyproject.toml scripts/bootstrap.sh
	VENV=$(VENV) scripts/bootstrap.sh
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/cyclr plot --mode triangular triangular2 exp_range --base-lr 0.001 --max-lr 0.006 \
		--step-size 2000 --iterations 20000 --momentum 0.8 0.9 -o cyclr-policies.png

test: $(STAMP)
	KERAS_BACKEND=torch $(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/bench_schedulers.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .hypothesis
