"""Page checks shared by the browser tests: axe-core (bundled by axe-playwright-python, so it
runs offline) and "nothing wider than the screen"."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe

_AXE = Axe()
SERIOUS = ("serious", "critical")

FIT_CHECK = """() => ({
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  widest: Array.from(document.querySelectorAll('body *'))
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
    .slice(0, 3)
    .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')
              + ' ' + Math.round(e.getBoundingClientRect().right) + 'px'),
})"""


def violations(page) -> list[tuple[str, str, str]]:
    """Every axe-core violation on the page as it is now: (impact, rule, target)."""
    results = _AXE.run(page)
    return [
        (violation["impact"], violation["id"], str(node["target"]))
        for violation in results.response["violations"]
        for node in violation["nodes"]
    ]


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations: "rule (impact): target"."""
    return [
        f"{rule} ({impact}): {target}"
        for impact, rule, target in violations(page)
        if impact in SERIOUS
    ]


def overflow(page) -> dict | None:
    """None when the page is no wider than the viewport, else what sticks out."""
    fit = page.evaluate(FIT_CHECK)
    return None if fit["scrollWidth"] <= fit["innerWidth"] else fit
