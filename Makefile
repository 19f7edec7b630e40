# The two commands of the README: `make demo` (set up + main job on the built-in default) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tokbench-installed
SYSTEM_PACKAGES := dataset-fashion-mnist espeak-ng chromium python3-doc linux-doc
export TOKBENCH_PROGRESS ?= 1

.PHONY: setup system-deps demo test test-fast mutate bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[all,dev]"
	touch $(STAMP)

setup: $(STAMP)

# Debian packages the built-in data and the browser test need; installed only when missing.
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
	  echo "installing Debian packages:$$missing"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: setup system-deps
	$(VENV)/bin/tokbench train-bpe

test: setup system-deps
	$(PY) -m pytest -q  # pytest exits 5 when no test is collected: a failure here, never a silent pass

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not browser"

# Mutation testing (mutmut) of the modules whose numbers we report, each against its own fast tests; survivors
# land in .mutmut/<group>/survivors.txt. Not part of CI (about an hour on 2 cores). MUTATE="runs" for one group.
MUTATE ?=
mutate: setup
	$(PY) tools/mutate.py --jobs 2 $(MUTATE)

# Benchmarks that run on this machine without arguments (each prints; `--write` updates RESULTS.md). The others
# take arguments: gpu_lookup_check.py (a CUDA GPU, or --smoke), visual_recipe.py (FAMILY DATA STEPS),
# metrics_parity.py (--save/--compare across two code versions); scale_corpus.py is a helper of scale.py.
BENCHMARKS := text_train text_eval text_variants premiums lookup visual_fit audio_fit scale
bench: setup
	for b in $(BENCHMARKS); do $(PY) benchmarks/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) runs .pytest_cache
