# The two commands of the README. Both set everything up on a fresh machine (Python 3.10+):
#   make lab    install, then open the tutorials in JupyterLab
#   make test   install (plus Debian's chromium and a CJK font for the browser tests), then run every test
# Versions come from constraints.txt, so pip never pulls an unpinned (multi-GB CUDA) torch.
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: install lab test chromium bench docs

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	@echo "installing the pinned versions into $(VENV) (log: $(VENV)/install.log)"
	@$(BIN)/python -m pip install -c constraints.txt -e ".[test]" > $(VENV)/install.log 2>&1 \
	  || { grep -v "WARNING: Location" $(VENV)/install.log | tail -40; exit 1; }
	touch $@

lab: install
	$(BIN)/jupyter lab --LabApp.app_settings_dir=jupyter-config/lab/settings tutorials/01_the_clock.ipynb

# The browser tests drive Debian's chromium (never a downloaded browser), with a CJK font so that the
# Chinese steppers draw characters, not tofu boxes (tests/browser/test_browser_cjk.py; binder/apt.txt
# installs the same font). WenQuanYi Micro Hei: 1.6 MB, where fonts-noto-cjk is 57 MB.
CJK_FONT := fonts-wqy-microhei

chromium:
	@{ command -v chromium && fc-list :lang=zh family | grep -q .; } >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium $(CJK_FONT) >/dev/null; }

test: install chromium
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

bench: install
	$(BIN)/python benchmarks/run_all.py

# The documentation site (docs/site/README.md): the README as the guide, the API from the docstrings and every
# tutorial in English and Chinese with its committed outputs (nothing executes, nothing downloads; < 60 s).
# It lands in build/site/ (git-ignored): open build/site/index.html, or serve the folder as it is.
docs: install
	$(BIN)/python docs/site/build.py build/site
