# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install lint clean bench preflight install-desktop uninstall-desktop

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The pre-flight check names missing system libraries (Qt's xcb plugin) and the exact
# apt-get / dnf command; it installs nothing.
preflight: $(STAMP)
	@$(PY) -m app.preflight

run: preflight
	$(PY) main.py

# A menu entry and icon for this user (no root): ~/.local/share/applications, .../icons/hicolor.
DATA_HOME ?= $(or $(XDG_DATA_HOME),$(HOME)/.local/share)
ICON_SIZES := 16 24 32 48 64 128 256 512

install-desktop:
	mkdir -p "$(DATA_HOME)/applications" "$(DATA_HOME)/icons/hicolor/scalable/apps"
	for s in $(ICON_SIZES); do \
	  mkdir -p "$(DATA_HOME)/icons/hicolor/$${s}x$${s}/apps" && \
	  cp assets/icons/skipwire-$$s.png "$(DATA_HOME)/icons/hicolor/$${s}x$${s}/apps/skipwire.png" || exit 1; \
	done
	cp assets/icons/skipwire.svg "$(DATA_HOME)/icons/hicolor/scalable/apps/skipwire.svg"
	sed -e 's|^Exec=.*|Exec="$(abspath $(PY))" "$(abspath main.py)"|' \
	    -e 's|^Path=.*|Path=$(CURDIR)|' assets/skipwire.desktop > "$(DATA_HOME)/applications/skipwire.desktop"
	-update-desktop-database "$(DATA_HOME)/applications" 2>/dev/null
	@echo "installed $(DATA_HOME)/applications/skipwire.desktop"

uninstall-desktop:
	rm -f "$(DATA_HOME)/applications/skipwire.desktop" "$(DATA_HOME)/icons/hicolor/scalable/apps/skipwire.svg"
	for s in $(ICON_SIZES); do rm -f "$(DATA_HOME)/icons/hicolor/$${s}x$${s}/apps/skipwire.png"; done

# House style (docs/style.md): ruff's lint and format (line length 110) and the import-linter contracts
# (docs/architecture.md); `make test` runs it first.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/lint-imports

# The suite runs on every core (pytest-xdist, at most 4 workers); the Ray tests share one worker and
# its local cluster (xdist_group "ray"). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= auto
test: lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --maxprocesses 4 --dist loadgroup \
	  --durations=15

# CPU benchmarks (figures go into BENCHMARKS.md by hand); bench/bench_gpu_train.py needs a GPU.
BENCHES := bench_shapes bench_codegen bench_canvas bench_startup bench_train_throughput \
           bench_grad_profile bench_metrics_stream bench_ui_latency

bench: $(STAMP)
	for b in $(BENCHES); do echo "== $$b"; QT_QPA_PLATFORM=offscreen $(PY) bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
