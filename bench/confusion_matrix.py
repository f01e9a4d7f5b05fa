"""Confusion matrix of watcher.classify over the mail corpus (tests/fixtures/mail).

Rows: the expected kind (expected.csv); columns: the verdict. Also counts rule mismatches and
out-of-office return dates. Exits non-zero if any human reply is judged as something else
(the one mistake users never forgive). Messages judged "reply" on purpose although they are
automatic (expected.csv `accepted`) are listed, and sit off the diagonal.

    .venv/bin/python bench/confusion_matrix.py [-v]
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.corpus import CONTEXT, CORPUS, expected_rows, summary_of
from watcher.classify import KINDS, classify, is_absence_notice
from watcher.ooo import return_date


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    matrix: Counter[tuple[str, str]] = Counter()
    rule_misses: list[str] = []
    wrong: list[str] = []
    by_design: list[str] = []
    dates = Counter()
    rows = expected_rows()
    for row in rows:
        summary = summary_of(CORPUS / row.file, in_sent=row.kind == "own")
        verdict = classify(summary, CONTEXT)
        matrix[row.kind, verdict.kind] += 1
        if verdict.kind != row.kind and verdict.kind == row.accepted:
            by_design.append(f"{row.file}: truly {row.kind}, judged {verdict.kind} by design")
        elif verdict.kind != row.kind:
            wrong.append(f"{row.file}: expected {row.kind}, got {verdict.describe()}")
        elif not verdict.rule.startswith(row.rule):
            rule_misses.append(f"{row.file}: expected rule {row.rule}, got {verdict.rule}")
        if row.kind == "auto_reply" and is_absence_notice(verdict):
            found = return_date(summary.text, summary.date, summary.subject)
            got = found.day.isoformat() if found else ""
            key = "stated" if row.return_date else "none stated"
            dates[key, got == row.return_date] += 1
        if verbose:
            print(f"{row.file:55} {verdict.kind:10} {verdict.rule:24} {verdict.detail[:70]}")

    width = max(len(k) for k in KINDS) + 2
    print(f"Classifier confusion matrix over {len(rows)} messages in {CORPUS.name}/")
    print("(rows: expected kind, columns: verdict)\n")
    print("expected \\ got".ljust(width + 4) + "".join(k.rjust(width) for k in KINDS) + "   total")
    for expected in KINDS:
        cells = [matrix[expected, got] for got in KINDS]
        print(
            expected.ljust(width + 4)
            + "".join(str(c).rjust(width) for c in cells)
            + str(sum(cells)).rjust(8)
        )
    correct = sum(matrix[k, k] for k in KINDS)
    print(f"\naccuracy (kind): {correct}/{len(rows)} = {correct / len(rows):.1%}")
    print(f"rule as expected: {len(rows) - len(wrong) - len(rule_misses)}/{len(rows)}")
    print(
        "out-of-office return dates: "
        f"{dates['stated', True]}/{dates['stated', True] + dates['stated', False]} read right "
        f"where stated, {dates['none stated', True]}/"
        f"{dates['none stated', True] + dates['none stated', False]} correctly none"
    )
    if by_design:
        print("off the diagonal by design (no mark but the body; leaning to reply):")
        for line in by_design:
            print("  " + line)
    if wrong or rule_misses:
        print("not as expected:")
        for line in wrong + rule_misses:
            print("  " + line)

    humans_misjudged = sum(matrix["reply", got] for got in KINDS if got != "reply")
    if humans_misjudged:
        print(f"\nFAIL: {humans_misjudged} human repl(ies) judged as something else")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
