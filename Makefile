# nirom — make setup | test | demo | bench
# setup: find Python >= 3.12 (PATH or pyenv), create .venv, install the pinned
# dependency set (.ci/requirements.lock) and nirom in editable mode. Idempotent:
# a second run only checks a stamp.

VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.nirom-installed
MPIEXEC   := $(VENV)/bin/mpiexec
NP        ?= 2
# wall-clock limits so that a deadlock fails fast instead of eating CI's time
SERIAL_TIMEOUT ?= 1500
MPI_TIMEOUT    ?= 600
PYTEST_FLAGS   ?= -q

.PHONY: setup test test-serial test-mpi demo bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml .ci/requirements.lock
	@set -e; \
	if [ ! -x "$(PY)" ]; then \
	  py=""; \
	  for cand in python3.12 python3.13; do \
	    if command -v $$cand >/dev/null 2>&1 && $$cand -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then py=$$(command -v $$cand); break; fi; \
	  done; \
	  if [ -z "$$py" ] && command -v pyenv >/dev/null 2>&1; then \
	    for v in $$(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9])(\.[0-9]+)?$$' | sort -V -r); do \
	      cand=$$(PYENV_VERSION=$$v pyenv which python3 2>/dev/null || true); \
	      if [ -n "$$cand" ] && "$$cand" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then py=$$cand; break; fi; \
	    done; \
	  fi; \
	  if [ -z "$$py" ]; then echo "make setup: no Python >= 3.12 found (on PATH or through pyenv)" >&2; exit 1; fi; \
	  echo "make setup: creating $(VENV) with $$py"; \
	  "$$py" -m venv $(VENV); \
	fi; \
	$(PY) -m pip install -q --upgrade pip >/dev/null 2>&1 || true; \
	echo "make setup: installing the pinned dependency set and nirom (editable)"; \
	$(PY) -m pip install -q -c .ci/requirements.lock -e ".[all]"; \
	touch $(STAMP)

test: setup
	@$(MAKE) --no-print-directory test-serial
	@$(MAKE) --no-print-directory test-mpi

test-serial: setup
	timeout $(SERIAL_TIMEOUT) $(PY) -m pytest $(PYTEST_FLAGS) -m "not mpi" tests

test-mpi: setup
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 timeout $(MPI_TIMEOUT) $(MPIEXEC) -n $(NP) $(PY) -m pytest $(PYTEST_FLAGS) -p no:cacheprovider -m mpi tests

demo: setup
	$(PY) examples/demo.py

bench: setup
	$(PY) -m benchmarks.run_all $(BENCH_FLAGS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
