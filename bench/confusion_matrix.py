"""Confusion matrix of watcher.classify over the mail corpus (tests/fixtures/mail).

Rows: the expected kind (expected.csv); columns: the verdict. Also counts rule mismatches and
out-of-office return dates. Exits non-zero if any human reply is judged as something else
(the one mistake users never forgive) or a goal of issue 18 is missed. Messages judged "reply"
on purpose although they are automatic (expected.csv `accepted`) are listed, and sit off the
diagonal.

Then the goal rates of issue 18, for the whole corpus and per misjudgement pattern (the
`patterns` column of expected-*.csv; "safe" = human replies that look automated):
human replies judged replies (goal 100%), auto-replies not taken for replies (>= 97%), bounces
not taken for replies (>= 99%), delay warnings not taken for bounces (>= 95%).

    .venv/bin/python bench/confusion_matrix.py [-v]
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.corpus import CONTEXT, CORPUS, Expected, expected_rows, summary_of
from watcher.classify import KINDS, classify, is_absence_notice
from watcher.ooo import return_date

# (column, rows it counts, verdicts that count as right, goal)
GOALS = (
    ("human->reply", lambda r: r.truth == "reply", {"reply"}, 1.0),
    ("auto !->reply", lambda r: r.truth == "auto_reply", set(KINDS) - {"reply"}, 0.97),
    ("bounce !->reply", lambda r: r.truth == "bounce", set(KINDS) - {"reply"}, 0.99),
    ("delay !->bounce", lambda r: r.truth == "delay", set(KINDS) - {"bounce"}, 0.95),
)
PATTERN_ROWS = (
    ("all", lambda r: True),
    ("issue 18 additions", lambda r: bool(r.patterns)),
    ("1 nothing in headers", lambda r: "1" in r.patterns.split()),
    ("2 null sender vs OOO", lambda r: "2" in r.patterns.split()),
    ("3 delay wording", lambda r: "3" in r.patterns.split()),
    ("4 DSN fields", lambda r: "4" in r.patterns.split()),
    ("5 auto header vs fail", lambda r: "5" in r.patterns.split()),
    ("6 subject markers", lambda r: "6" in r.patterns.split()),
    ("safe (look automated)", lambda r: "safe" in r.patterns.split()),
)


def goal_table(judged: list[tuple[Expected, str]]) -> list[str]:
    """The issue-18 goal rates per pattern row; returns the goals missed on the whole corpus."""
    print("\nGoal rates (right/total) per pattern; '-' where the row holds no such message:")
    print("pattern".ljust(24) + "".join(name.rjust(18) for name, *_ in GOALS) + "   n")
    missed = []
    for label, selects in PATTERN_ROWS:
        rows = [(r, got) for r, got in judged if selects(r)]
        cells = []
        for name, counts, right, goal in GOALS:
            counted = [got for r, got in rows if counts(r)]
            ok = sum(got in right for got in counted)
            if not counted:
                cells.append("-".rjust(18))
                continue
            cells.append(f"{ok}/{len(counted)} {ok / len(counted):6.1%}".rjust(18))
            if label == "all" and ok / len(counted) < goal:
                missed.append(f"{name}: {ok}/{len(counted)} < {goal:.0%}")
        print(label.ljust(24) + "".join(cells) + str(len(rows)).rjust(4))
    return missed


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    matrix: Counter[tuple[str, str]] = Counter()
    rule_misses: list[str] = []
    wrong: list[str] = []
    by_design: list[str] = []
    dates = Counter()
    rows = expected_rows()
    judged: list[tuple[Expected, str]] = []
    for row in rows:
        summary = summary_of(CORPUS / row.file, in_sent=row.kind == "own")
        verdict = classify(summary, CONTEXT)
        judged.append((row, verdict.kind))
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

    missed = goal_table(judged)
    humans_misjudged = sum(matrix["reply", got] for got in KINDS if got != "reply")
    if humans_misjudged:
        print(f"\nFAIL: {humans_misjudged} human repl(ies) judged as something else")
        return 1
    if missed:
        print("\nFAIL: goals missed: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
