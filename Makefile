# The two commands of the README. Both set everything up on a fresh machine (Python 3.10+):
#   make lab    install, then open the tutorials in JupyterLab
#   make test   install (plus Debian's chromium for the browser tests), then run every test
# Versions come from constraints.txt, so pip never pulls an unpinned (multi-GB CUDA) torch.
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: install lab test chromium bench

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	@echo "installing the pinned versions into $(VENV) (log: $(VENV)/install.log)"
	@$(BIN)/python -m pip install -c constraints.txt -e ".[test]" > $(VENV)/install.log 2>&1 \
	  || { grep -v "WARNING: Location" $(VENV)/install.log | tail -40; exit 1; }
	touch $@

lab: install
	$(BIN)/jupyter lab --LabApp.app_settings_dir=jupyter-config/lab/settings tutorials/01_the_clock.ipynb

# The browser tests drive Debian's chromium (never a downloaded browser).
chromium:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: install chromium
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

bench: install
	$(BIN)/python benchmarks/run_all.py
