# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install lint clean bench

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) main.py

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/lint-imports
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider

# CPU benchmarks (figures go into BENCHMARKS.md by hand); bench/bench_gpu_train.py needs a GPU.
BENCHES := bench_shapes bench_codegen bench_canvas bench_startup bench_train_throughput \
           bench_grad_profile bench_metrics_stream bench_ui_latency

bench: $(STAMP)
	for b in $(BENCHES); do echo "== $$b"; QT_QPA_PLATFORM=offscreen $(PY) bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
