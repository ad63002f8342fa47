# make demo | make test | make bench | make demo-train — each creates .venv and installs lkbench with the exact
# pins of constraints.txt the first time (and again whenever pyproject.toml or the pins change).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lkbench-installed
DEMO_DIR ?= out/demo
DEMO_RUN ?= $(HOME)/runs/lkbench-demo

.PHONY: demo demo-train test bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt setuptools wheel
	$(BIN)/pip install --quiet --disable-pip-version-check --no-build-isolation \
		-c constraints.txt -e ".[test,bench]"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/python -m lkbench.demo --out $(DEMO_DIR)

# Retrains the shipped demo generator from scratch (hours on 2 CPU cores, minutes on a GPU;
# rerun to resume after an interruption) and exports its EMA generator into lkbench/assets/.
demo-train: $(STAMP)
	$(BIN)/lkbench train --model latent-keypoint-gan --dataset synthetic --preset demo \
		--out $(DEMO_RUN) --resume auto
	$(BIN)/lkbench export $(DEMO_RUN) lkbench/assets/demo-generator.pt --force --command \
		"lkbench train --model latent-keypoint-gan --dataset synthetic --preset demo --out $(DEMO_RUN) --resume auto"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_synthetic.py
	$(BIN)/python benchmarks/bench_data.py
	$(BIN)/python benchmarks/bench_lkg.py
	$(BIN)/python benchmarks/bench_keypointgan.py
	$(BIN)/python benchmarks/bench_tps.py
	$(BIN)/python benchmarks/bench_detect.py
	$(BIN)/python benchmarks/bench_fid.py
	$(BIN)/python benchmarks/bench_serve.py

clean:
	rm -rf $(VENV) out .pytest_cache

# The GPU check (docs/gpu.md). gpu-wheels, on a machine with internet: lkbench's dependencies
# as wheels in wheels/ for an offline GPU machine, torch and the CUDA libraries left out
# (GPU_PYTHON="3.12" for that machine's Python; SLIM=1 also leaves out numpy, scipy, pandas,
# scikit-learn, matplotlib and pillow, which PyTorch images ship). gpu-check, on the GPU
# machine, offline, with no .venv: the check, under 8 minutes, results in $$OUT or
# out/gpu-check. gpu-check-dry-run: the same steps on the CPU at smoke sizes (CI).
GPU_PYTHON ?=
.PHONY: gpu-wheels gpu-check gpu-check-dry-run

gpu-wheels: $(STAMP)
	$(BIN)/python benchmarks/gpu_wheels.py $(foreach v,$(GPU_PYTHON),--python-version $(v)) \
		$(if $(SLIM),--slim)

gpu-check:
	bash benchmarks/gpu_check.sh

gpu-check-dry-run: $(STAMP)
	PYTHON=$(BIN)/python bash benchmarks/gpu_check.sh --dry-run
