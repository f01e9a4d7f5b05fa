# The two commands of the README. Both set up what they need (see scripts/setup.sh).
.PHONY: run test lint format bench

run:
	@scripts/setup.sh run
	.venv/bin/python app.py

test:
	@scripts/setup.sh test
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/python -m pytest

bench:
	@scripts/setup.sh test
	.venv/bin/python bench/idle_pass.py
	.venv/bin/python bench/confusion_matrix.py
	.venv/bin/python bench/send_throughput.py
	.venv/bin/python bench/memory_and_claims.py
	.venv/bin/python bench/reply_latency.py
	.venv/bin/python bench/gmail_quota.py
	.venv/bin/python bench/addon_latency.py

format:
	@scripts/setup.sh test
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .
