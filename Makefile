# Two commands on a fresh Debian/Ubuntu machine, as root:
#   make demo   boot the DR lab, show it answering, tear it down (KEEP=1 keeps it)
#   make test   every test: unit, module integration in guests, Molecule scenarios
# Everything they need is installed by the targets below (apt packages, a venv, the guest image).
SHELL := /bin/bash
VENV ?= .venv
PY := $(CURDIR)/$(VENV)/bin/python
APT_PACKAGES := qemu-system-x86 qemu-utils mmdebstrap e2fsprogs iproute2 openssh-client iputils-ping \
                curl python3-venv
# Ansible finds the collection under development as ansible_collections/lvs/cluster.
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.build/collections
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONDONTWRITEBYTECODE := 1
PYTEST_ARGS ?=

.PHONY: deps host-packages venv collection image demo test unit sanity bench-table clean lab-down bench-lab bench-forks bench-ha profile

deps: host-packages venv collection

host-packages: .build/apt.stamp
.build/apt.stamp:
	@mkdir -p .build
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing host packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@touch $@

venv: $(VENV)/.stamp
$(VENV)/.stamp: requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

collection: .build/collections/ansible_collections/lvs/cluster
.build/collections/ansible_collections/lvs/cluster:
	@mkdir -p $(@D)
	ln -sfn $(CURDIR) $@

image: deps
	$(PY) -m lab build

demo: image
	$(PY) -m lab.demo $(if $(KEEP),--keep)

unit: deps
	$(PY) -m pytest tests/unit -q $(PYTEST_ARGS)

# No guest: ansible-test sanity and units under each ansible-core series from 2.17 (the older series'
# venvs, .build/core-<series>/, are made by the tests on first use), Galaxy's importer, the linters.
# Two workers: these checks are host processes, mostly one core each, and independent of one another.
SANITY_PYTEST := $(PY) -m pytest tests/sanity -n 2 --dist loadgroup
sanity: deps
	$(SANITY_PYTEST) -q $(PYTEST_ARGS)

# Two sessions: the sanity checks first (on two workers, a few minutes), then everything else but the unit
# tests, which the first session ran already (ansible-test units, checked to have passed every one); both run
# whatever the first gave, and the first failure's status is make's. A PYTEST_ARGS selection that leaves
# one session with nothing to run (pytest's status 5) is not a failure. The guest image, which only the
# second session needs, is built meanwhile (mostly downloads and disk writes beside the sanity checks'
# CPU): its log is shown once it is done, and a failed build fails the run before the second session.
test: deps
	@mkdir -p .build; \
	$(PY) -m lab build > .build/image-build.log 2>&1 & build=$$!; \
	status=0; \
	for session in "$(SANITY_PYTEST)" "$(PY) -m pytest tests --ignore=tests/sanity --ignore=tests/unit"; do \
	  $$session $(PYTEST_ARGS); rc=$$?; \
	  if [ -n "$$build" ]; then \
	    wait $$build; built=$$?; build=; cat .build/image-build.log; \
	    if [ $$built -ne 0 ]; then echo "make test: the guest image build failed (status $$built)" >&2; exit $$built; fi; \
	  fi; \
	  if [ $$rc -eq 5 ] && [ -n "$(strip $(PYTEST_ARGS))" ]; then rc=0; fi; \
	  if [ $$status -eq 0 ]; then status=$$rc; fi; \
	done; \
	exit $$status

# Control-plane benchmark (prints figures; boots and removes its own one-guest lab).
bench-table: image
	$(PY) tests/benchmarks/table_apply.py

lab-down:
	$(PY) -m lab down --all

clean: lab-down
	rm -rf .build $(VENV) tests/output

bench-lab: image
	$(PY) tests/benchmarks/lab_boot.py

# Module runs on every guest of a lab with several --forks values side by side (FORKS=7,2 for example).
bench-forks: image
	$(PY) tests/benchmarks/forks.py $(if $(FORKS),--forks $(FORKS))

# The ha scenario with each failover repeated (RUNS=3 by default; CI proves each once) and the medians
# printed as FIGURES lines.
bench-ha: image
	LVS_HA_RUNS="$(or $(RUNS),3)" LVS_SCENARIOS=ha $(PY) -m pytest tests/scenarios -s -q

# Where a scenario's time goes (SCENARIO=methods by default, or e.g. SCENARIO="dr tun", or all): each
# Molecule step's wall time (STEPS) and every play's slowest tasks (TASKTIME, tests/profile). CI prints the same.
profile: image
	LVS_SCENARIOS="$(or $(SCENARIO),methods)" $(PY) -m pytest tests/scenarios -s -q
