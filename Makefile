# The two commands of the README. Both set up what they need (see scripts/setup.sh).
.PHONY: run test test-dates lint format bench

run:
	@scripts/setup.sh run
	.venv/bin/python app.py

test:
	@scripts/setup.sh test
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/python -m pytest

# The suite with the machine's clock on other days (faketime): no test may depend on today's date.
test-dates:
	@scripts/test-dates.sh -- $(ARGS)

bench:
	@scripts/setup.sh test
	@missed=""; for script in idle_pass gmail_quota reply_latency send_throughput \
	    memory_and_claims addon_latency settings_latency confusion_matrix judge_cost \
	    metrics_scrape idle_scale many_accounts claim_cost send_latency reply_latency_scale \
	    gmail_push_first; do \
	  echo "== bench/$$script.py"; \
	  .venv/bin/python bench/$$script.py || missed="$$missed $$script"; echo; \
	done; \
	if [ -n "$$missed" ]; then echo "goal missed or run failed:$$missed"; exit 1; fi

format:
	@scripts/setup.sh test
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .
