# Two commands for a fresh clone: `make demo` runs the main job, `make test` the tests.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test bench clean

$(PY): pyproject.toml scripts/bootstrap.sh
	VENV=$(VENV) scripts/bootstrap.sh
	@touch $(PY)

setup: $(PY)

demo: $(PY)
	$(VENV)/bin/cyclr plot --mode triangular triangular2 exp_range --base-lr 0.001 --max-lr 0.006 \
		--step-size 2000 --iterations 20000 --momentum 0.8 0.9 -o cyclr-policies.png

test: $(PY)
	KERAS_BACKEND=torch $(PY) -m pytest -q

bench: $(PY)
	$(PY) benchmarks/bench_schedulers.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .hypothesis
