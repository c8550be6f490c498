# The commands a newcomer needs: make setup, make test, make run.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
export TF_CPP_MIN_LOG_LEVEL := 3
export RASA_TELEMETRY_ENABLED := false

.PHONY: setup test test-fast lint validate unit conversations whole-conversations e2e scale-out browser backend-test run shell benchmark spacy-metrics clean

setup:            ## build environments, the Italian spaCy pipeline and the Rasa model
	bash scripts/setup.sh

test: lint validate unit conversations backend-test e2e  ## everything CI runs

test-fast: lint validate unit  ## seconds: no trained model needed

lint:
	$(VENV)/bin/ruff check actions bot brand_registry handoff identity scripts tests

validate:
	$(RASA) data validate --data bot/data --domain domain --config config.yml --fail-on-warnings

unit:
	$(PY) -m pytest -m "not e2e" tests

conversations:
	$(RASA) test core --model models/area-clienti.tar.gz --stories tests/test_stories.yml \
	  --fail-on-prediction-errors --out results/conversations

backend-test:
	@if [ -x backend_stub/.venv/bin/python ]; then \
	  backend_stub/.venv/bin/python -m pytest backend_stub/tests -q; \
	else echo "backend stub not set up: skipped"; fi

whole-conversations:  ## whole conversations on the running stack (SETS=suite_a,suite_b); figures in results/whole_conversations/
	CONVERSATION_SETS="$(or $(SETS),suite_a)" $(PY) -m pytest -m e2e tests/conversations -q

e2e:              ## REST, WhatsApp and browser tests, and the whole-conversation suite, on the running stack
	$(PY) -m pytest -m e2e tests

scale-out:        ## only the replica-kill test: 2 Rasa replicas behind HAProxy, one killed mid-run
	$(PY) -m pytest -m replica_kill tests/e2e/test_scale_out.py

browser:          ## widget and staff page in Debian Chromium (Playwright); screenshots in results/screenshots/
	$(PY) -m pytest -m e2e tests/browser

run:              ## the whole stack in the foreground; Ctrl-C stops it
	bash scripts/run.sh

shell:            ## chat in the terminal (BRAND=cavita make shell for CA Vita)
	bash scripts/shell.sh

benchmark:        ## held-out intent accuracy: ours vs Rasa's default pipeline
	$(PY) scripts/benchmark_nlu.py --config config.yml --config scripts/configs/rasa_default.yml

spacy-metrics:    ## held-out accuracy of the Italian spaCy pipeline
	$(PY) scripts/build_italian_pipeline.py --metrics

clean:
	rm -rf models results reports var
