"""A small horizontal bar chart as server-rendered SVG: no JavaScript, no inline styles (the
page's Content-Security-Policy forbids them), only presentation attributes.

Every bar carries its label and value as text, so the chart reads without colour; <title> and
<desc> (named by aria-labelledby) give screen readers the same facts. The SVG takes its
container's width while its text keeps one size: lengths across are percentages (bars, the
right-aligned values), lengths down are fixed, and there is no viewBox to scale the text.
Labels and values share a line, so it wants about 260 px: a 390 px phone has room.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

ROW = 40  # label line + bar + gap
LABEL_BASELINE = 15
BAR_TOP = 22
BAR_HEIGHT = 12
FONT_SIZE = 14
TRACK = "#e8ebf0"
INK = "#1d2330"


@dataclass(frozen=True)
class Bar:
    label: str
    share: float  # 0..1 of the whole bar
    value: str  # shown at the right end of the label line, e.g. "40% (12)"
    colour: str


def bar_chart(chart_id: str, title: str, desc: str, bars: list[Bar]) -> Markup:
    """The SVG markup. Markup.format escapes every value, so labels (account addresses) are
    safe; `chart_id` makes the title/desc ids unique on the page."""
    height = ROW * len(bars)
    parts = [
        Markup(
            '<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="100%" height="{h}" '
            'role="img" aria-labelledby="{id}-title {id}-desc" font-size="{size}" fill="{ink}">'
            '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>'
        ).format(h=height, id=chart_id, size=FONT_SIZE, ink=INK, title=title, desc=desc)
    ]
    for i, bar in enumerate(bars):
        top = i * ROW
        filled = round(100 * min(max(bar.share, 0.0), 1.0), 1)
        parts.append(
            Markup(
                '<g class="bar"><text x="0" y="{text_y}">{label}</text>'
                '<text x="100%" y="{text_y}" text-anchor="end" font-weight="600">{value}</text>'
                '<rect x="0" y="{bar_y}" width="100%" height="{bar_h}" rx="3" fill="{track}"/>'
            ).format(
                text_y=top + LABEL_BASELINE,
                bar_y=top + BAR_TOP,
                bar_h=BAR_HEIGHT,
                label=bar.label,
                value=bar.value,
                track=TRACK,
            )
        )
        if filled > 0:
            # A sliver stays visible for tiny shares; its number is in the text anyway.
            parts.append(
                Markup(
                    '<rect x="0" y="{bar_y}" width="{filled}%" height="{bar_h}" rx="3" '
                    'fill="{colour}"/>'
                ).format(
                    bar_y=top + BAR_TOP, filled=max(filled, 1), bar_h=BAR_HEIGHT, colour=bar.colour
                )
            )
        parts.append(Markup("</g>"))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
