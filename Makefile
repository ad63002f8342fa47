# make demo | make test | make bench — each creates .venv and installs lkbench with the exact
# pins of constraints.txt the first time (and again whenever pyproject.toml or the pins change).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lkbench-installed
DEMO_DIR ?= out/demo

.PHONY: demo test bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt setuptools wheel
	$(BIN)/pip install --quiet --disable-pip-version-check --no-build-isolation \
		-c constraints.txt -e ".[test]"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	@echo "lkbench demo: renders the built-in synthetic benchmark. No trained demo generator ships"
	@echo "yet, so detection is not run here; train one with: lkbench train --model"
	@echo "latent-keypoint-gan --preset demo --out runs/demo (hours on 2 cores; see README)."
	$(BIN)/lkbench datasets list
	$(BIN)/lkbench datasets show synthetic --split test --preset demo --out $(DEMO_DIR)/synthetic_easy.png
	$(BIN)/lkbench datasets show synthetic --split test --preset demo --set difficulty=hard \
		--out $(DEMO_DIR)/synthetic_hard.png

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_synthetic.py
	$(BIN)/python benchmarks/bench_data.py
	$(BIN)/python benchmarks/bench_lkg.py
	$(BIN)/python benchmarks/bench_detect.py
	$(BIN)/python benchmarks/bench_fid.py
	$(BIN)/python benchmarks/bench_serve.py

clean:
	rm -rf $(VENV) out .pytest_cache
