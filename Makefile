# gns3lab — two set-up commands do everything on a fresh Debian 12 machine:
#   make demo   build the bundled demo lab into dist/ and show what is inside
#   make test   run the whole test suite (real qemu-img, libguestfs, QEMU, gns3-server)
# Both install what they need (apt packages, the venv, the GNS3 servers) and are idempotent.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
GNS3LAB := $(VENV)/bin/gns3lab
APT_PACKAGES := linux-image-amd64 libguestfs-tools python3-guestfs qemu-utils qemu-system-x86 \
	mmdebstrap cloud-init ansible-core ansible-lint extlinux syslinux-common python3-venv \
	openssh-client dnsmasq-base e2fsprogs dosfstools mtools syslinux graphviz chromium openssl \
	fonts-dejavu-core cloud-image-utils zip \
	xvfb libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 \
	libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0 libx11-xcb1 libegl1 libgl1 \
	libfontconfig1 libdbus-1-3
export GNS3LAB_IMAGES ?= $(CURDIR)/.cache/images
# libguestfs: the direct backend (Debian's default; the KVM watchdog needs qemu as its child).
# Where KVM cannot run guests, gns3lab falls back to TCG by itself (after a 30 s stall); the test
# suite sets force_tcg itself (tests/conftest.py) to skip that wait on every build.
export LIBGUESTFS_BACKEND ?= direct

.PHONY: demo test test-fast fast-venv setup apt venv servers clean bench

setup: apt venv

SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
		| grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

venv: $(VENV)/.stamp
$(VENV)/.stamp: pyproject.toml
	@$(MAKE) -s apt
	/usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(VENV)/bin/pip install -q -e '.[test]'
	@touch $@

servers: venv
	bash tests/support/provision_gns3.sh
	sh tests/support/provision_gui.sh

demo: setup
	$(GNS3LAB) build blueprints/demo -o dist
	$(GNS3LAB) inspect dist/demo.gns3project
	@echo
	@echo "Import dist/demo.gns3project in GNS3 (File > Import portable project; its base image"
	@echo "is inside), then press Start all. Or: $(GNS3LAB) push dist/demo.gns3project"
	@echo "--server http://127.0.0.1:3080 --wait. Check it first: $(GNS3LAB) verify dist/demo.gns3project"

# tests/unit and tests/golden run once, inside tests/integration/test_fast_suite_pure.py, where
# every tool is hidden (that is the proof that make test-fast needs none); its message lists any
# of their failures. Running them a second time here cost two minutes of the 40.
# Bytecode is written (into .cache/pycache, out of the tree) even where the environment says
# PYTHONDONTWRITEBYTECODE: the suite starts a few hundred Python children (gns3lab, the GNS3
# servers), and each would compile the package again (about 0.7 s of CPU each).
test: setup servers
	PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(CURDIR)/.cache/pycache \
		$(PY) -m pytest -q -rfEs --durations=25 --ignore=tests/unit --ignore=tests/golden

# tests/unit and tests/golden: no qemu-img, libguestfs, cloud-init, GNS3 server or other program
# (tests/integration/test_fast_suite_pure.py proves it), so only the venv is needed, not apt.
test-fast: fast-venv
	$(PY) -m pytest -q tests/unit tests/golden

fast-venv:
	@[ -x $(PY) ] || { /usr/bin/python3 -m venv --system-site-packages $(VENV) && \
		$(VENV)/bin/pip install -q -e '.[test]'; }

bench: setup
	@command -v cloud-localds >/dev/null || { echo "bench needs cloud-localds: apt-get install -y cloud-image-utils"; exit 2; }
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf dist .pytest_cache test-artifacts
