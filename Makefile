# Neural Circuits. `make help` lists the targets; README.md explains them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
QUALITY ?= low
# Who narrates the videos: piper (a neural voice, offline, default), espeak
# (offline, robotic), silent (captions only), recorder (your microphone), or
# another engine (see animations/narration.py).
VOICE ?= piper
INSTALLED := $(VENV)/.installed

# Debian/Ubuntu packages: pycairo and manimpango build from source against
# cairo and pango; MathTex needs LaTeX and dvisvgm; espeak-ng is the videos'
# draft voice, VOICE=espeak (the default voice, Piper, comes from PyPI with its
# own phonemiser); sox is what manim-voiceover uses to change a voice's speed.
# The site, slide and JupyterLab tests drive Debian's headless Chromium with
# its driver. apt.txt (repo2docker) lists the same packages:
# tests/test_repo2docker.py keeps them in step.
APT_PACKAGES := libcairo2-dev libpango1.0-dev pkg-config \
	texlive-latex-extra texlive-latex-recommended texlive-fonts-recommended dvisvgm \
	espeak-ng sox chromium chromium-driver
# npm packs the pinned JavaScript the site and the decks serve themselves
# (WEB_PACKAGES), so neither needs a CDN. Debian's npm is installed only when
# no npm is on the PATH: a Node.js from elsewhere brings its own, and
# Debian's npm package conflicts with it.
NEEDED_APT = $(APT_PACKAGES) $(if $(shell command -v npm),,npm)
WEB_PACKAGES := reveal.js@6.0.1 mathjax@3.2.2
WEB_ASSETS := $(VENV)/share/neuralcircuits-web
WEB_TARBALLS := $(foreach p,$(WEB_PACKAGES),$(WEB_ASSETS)/$(subst @,-,$(p)).tgz)

SCENE_STEMS := $(notdir $(basename $(wildcard animations/[0-9][0-9]_*.py)))

# Lessons, tests and benchmarks never reach the network.
OFFLINE := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1

.PHONY: help setup system-packages test test-full course lab lessons notebooks videos \
	bench toy-model lint clean distclean site assignments slides lab-teacher

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: system-packages $(INSTALLED) $(WEB_TARBALLS) ## install everything: system packages, .venv, Jupyter kernel
	@echo "Setup complete. Next: make test (or make lab to start learning)."

system-packages: ## the apt packages Manim and LaTeX need (sudo when not root)
	@if command -v dpkg-query >/dev/null && dpkg-query -W -f='$${Status}\n' $(NEEDED_APT) 2>/dev/null \
			| grep -c "install ok installed" | grep -qx "$(words $(NEEDED_APT))"; then \
		echo "System packages: already installed."; \
	elif command -v apt-get >/dev/null; then \
		SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		echo "Installing system packages with apt-get (about a minute)..."; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q \
			--no-install-recommends $(NEEDED_APT); \
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

# MathJax (site) and reveal.js (slides), pinned, served from the build, never a CDN.
$(WEB_TARBALLS): | $(INSTALLED)
	@mkdir -p $(WEB_ASSETS)
	cd $(WEB_ASSETS) && npm pack --silent \
		$(foreach p,$(WEB_PACKAGES),$(if $(filter $(notdir $@),$(subst @,-,$(p)).tgz),$(p))) >/dev/null

PYTEST := $(OFFLINE) $(PY) -m pytest tests build/notebooks/lessons --nbval-lax \
	--nbval-current-env -p no:cacheprovider --durations=10

test: $(INSTALLED) $(WEB_TARBALLS) lint ## lint first, then unit tests, every notebook, lessons/ in sync, every scene, site, slides, lab (offline)
	@$(PY) -m neuralcircuits.tooling.notebooks build/notebooks
	@# solutions/ run once, in tests/test_site.py, which builds the site from them.
	$(PYTEST) -m "not full"

test-full: test ## make test, then every lesson's full narrated video and every deck, rendered one at a time
	$(OFFLINE) $(PY) -m pytest tests/test_scenes.py tests/test_slides.py -m full \
		-p no:cacheprovider --durations=10

course: $(INSTALLED) ## the main job: execute every solution into build/course/, render every video
	$(OFFLINE) $(PY) -m neuralcircuits.tooling.course --quality $(QUALITY)

LAB_ROOT ?= $(CURDIR)
# nbgrader's menu, "Create Assignment" panel and server pages are the teacher's:
# a learner's Lab reads LEARNER_JUPYTER first, where they are off
# (tooling/lab.py; postBuild writes the same into Binder's image).
LEARNER_JUPYTER := build/jupyter-learner
LAB_FLAGS = --ServerApp.ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)
lab: $(INSTALLED) ## open JupyterLab on lessons/ (the .py files open as notebooks)
	@$(PY) -m neuralcircuits.tooling.lab $(LEARNER_JUPYTER)
	JUPYTER_CONFIG_PATH="$(abspath $(LEARNER_JUPYTER))$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH))" \
		$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(LAB_ROOT)" --LabApp.default_url=/lab/tree/lessons $(LAB_FLAGS)

TEACHER_ROOT ?= build/assignments
lab-teacher: $(INSTALLED) ## JupyterLab with nbgrader's menu and formgrader, on build/assignments/ (the teacher's)
	@[ -f $(TEACHER_ROOT)/nbgrader_config.py ] || $(MAKE) assignments
	cd $(TEACHER_ROOT) && $(abspath $(VENV))/bin/jupyter lab --LabApp.default_url=/lab/tree $(LAB_FLAGS)

site: $(INSTALLED) $(WEB_TARBALLS) ## the course website (Jupyter Book) from make course's notebooks into build/site/
	@ls build/course/[0-9][0-9]_*.ipynb >/dev/null 2>&1 || $(MAKE) course
	$(PY) -m neuralcircuits.tooling.site

assignments: $(INSTALLED) ## the nbgrader course of the exercises in build/assignments/
	$(PY) -m neuralcircuits.tooling.assignments

slides: $(INSTALLED) $(WEB_TARBALLS) ## each lesson's scenes as a reveal.js deck in build/slides/ (QUALITY=low|high)
	$(OFFLINE) $(PY) -m neuralcircuits.tooling.slides --quality $(QUALITY)

lessons: $(INSTALLED) ## regenerate lessons/ from solutions/ (keeps your edits unless FORCE=1)
	@$(PY) -m neuralcircuits.tooling.lessongen $(if $(FORCE),--force)

notebooks: $(INSTALLED) ## write .ipynb copies of lessons and solutions into build/notebooks/
	@$(PY) -m neuralcircuits.tooling.notebooks build/notebooks

videos: $(addprefix video-,$(SCENE_STEMS)) ## narrated videos, captions, chapters into build/videos/ (QUALITY=low|high, VOICE=piper|espeak|silent|recorder|...)

video-%: $(INSTALLED)
	$(OFFLINE) NC_VOICE=$(VOICE) $(PY) -m neuralcircuits.tooling.videos animations/$*.py --quality $(QUALITY)

bench: $(INSTALLED) ## benchmarks against TransformerLens and lesson 04 end to end; writes build/bench.json
	$(OFFLINE) $(PY) -m neuralcircuits.tooling.bench

toy-model: $(INSTALLED) ## retrain the embedded toy-seq model from its fixed seed (a few minutes)
	$(OFFLINE) $(PY) -m neuralcircuits.science.toy_seq.train

LINT_PATHS := neuralcircuits solutions lessons animations tests
# lessons/ is generated from solutions/ (tests/test_sync.py keeps them equal):
# format solutions/, then regenerate lessons/ (make lessons FORCE=1).
FORMAT_PATHS := $(filter-out lessons,$(LINT_PATHS))
lint: $(INSTALLED) ## ruff (rules and format) over the code, lessons, scenes, tests; mypy over the package
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/mypy
	$(VENV)/bin/ruff format --check $(FORMAT_PATHS)

clean: ## remove build/ (notebooks, videos, benchmark output)
	rm -rf build media .pytest_cache

distclean: clean ## also remove the virtual environment
	rm -rf $(VENV)
