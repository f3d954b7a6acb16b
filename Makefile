# Neural Circuits. `make help` lists the targets; README.md explains them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
QUALITY ?= low
INSTALLED := $(VENV)/.installed

# Debian/Ubuntu packages: pycairo and manimpango build from source against
# cairo and pango; MathTex needs LaTeX and dvisvgm.
APT_PACKAGES := libcairo2-dev libpango1.0-dev pkg-config \
	texlive-latex-extra texlive-latex-recommended texlive-fonts-recommended dvisvgm

SCENE_STEMS := $(notdir $(basename $(wildcard animations/[0-9][0-9]_*.py)))

# Lessons, tests and benchmarks never reach the network.
OFFLINE := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1

.PHONY: help setup system-packages test course lab lessons notebooks videos \
	bench toy-model lint clean distclean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: system-packages $(INSTALLED) ## install everything: system packages, .venv, Jupyter kernel
	@echo "Setup complete. Next: make test (or make lab to start learning)."

system-packages: ## the apt packages Manim and LaTeX need (sudo when not root)
	@if command -v dpkg-query >/dev/null && dpkg-query -W -f='$${Status}\n' $(APT_PACKAGES) 2>/dev/null \
			| grep -c "install ok installed" | grep -qx "$(words $(APT_PACKAGES))"; then \
		echo "System packages: already installed."; \
	elif command -v apt-get >/dev/null; then \
		SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		echo "Installing system packages with apt-get (about a minute)..."; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q \
			--no-install-recommends $(APT_PACKAGES); \
	elif pkg-config --exists cairo pangocairo 2>/dev/null && command -v latex >/dev/null \
			&& command -v dvisvgm >/dev/null; then \
		echo "System packages: no apt-get, but cairo, pango and LaTeX are present."; \
	else \
		echo "This machine has no apt-get, and cairo, pango or LaTeX is missing."; \
		echo "Install them with your package manager: cairo and pango (with their"; \
		echo "development headers), pkg-config, a LaTeX distribution and dvisvgm"; \
		echo "(macOS: brew install cairo pango pkg-config and MacTeX)."; \
		echo "Or use conda: conda env create -f environment.yml (see README.md)."; \
		exit 1; \
	fi

$(INSTALLED): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		{ echo "The course needs Python 3.11 (set PYTHON=/path/to/python3.11)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (Neural Circuits)" >/dev/null
	@# Lab opens the lessons' .py files as notebooks.
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@echo '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"python": "Jupytext Notebook"}}}' \
		> $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $@

test: $(INSTALLED) ## unit tests, every notebook, lessons/ in sync, every scene rendered (offline)
	@$(PY) -m neuralcircuits.tooling.notebooks build/notebooks
	$(OFFLINE) $(PY) -m pytest tests build/notebooks --nbval-lax --nbval-current-env -p no:cacheprovider

course: $(INSTALLED) ## the main job: execute every solution into build/course/, render every video
	$(OFFLINE) $(PY) -m neuralcircuits.tooling.course --quality $(QUALITY)

lab: $(INSTALLED) ## open JupyterLab on lessons/ (the .py files open as notebooks)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/lessons \
		$(if $(filter 0,$(shell id -u)),--allow-root)

lessons: $(INSTALLED) ## regenerate lessons/ from solutions/ (keeps your edits unless FORCE=1)
	@$(PY) -m neuralcircuits.tooling.lessongen $(if $(FORCE),--force)

notebooks: $(INSTALLED) ## write .ipynb copies of lessons and solutions into build/notebooks/
	@$(PY) -m neuralcircuits.tooling.notebooks build/notebooks

videos: $(addprefix video-,$(SCENE_STEMS)) ## render every lesson's video into build/videos/ (QUALITY=low|high)

video-%: $(INSTALLED)
	$(OFFLINE) $(PY) -m neuralcircuits.tooling.videos animations/$*.py --quality $(QUALITY)

bench: $(INSTALLED) ## benchmarks against TransformerLens and lesson 03 end to end; writes build/bench.json
	$(OFFLINE) $(PY) -m neuralcircuits.tooling.bench

toy-model: $(INSTALLED) ## retrain the embedded toy-seq model from its fixed seed (a few minutes)
	$(OFFLINE) $(PY) -m neuralcircuits.science.toy_seq.train

lint: $(INSTALLED) ## ruff over the package, lessons, scenes and tests
	$(VENV)/bin/ruff check neuralcircuits solutions animations tests

clean: ## remove build/ (notebooks, videos, benchmark output)
	rm -rf build media .pytest_cache

distclean: clean ## also remove the virtual environment
	rm -rf $(VENV)
