"""The year's statistics written out: a text table, CSV for the statistics office, and an HTML
page with inline SVG bar charts (no scripts, no external files)."""

from __future__ import annotations

import csv
import io
from html import escape

from registry.estimated import Estimate
from registry.stats import Row, Statistics

_BAR_WIDTH = 360
_LINE = 22
_LABEL = 190


def text_table(stats: Statistics) -> str:
    """Every row with its figures, dimension by dimension, rows with nothing left out."""
    head = ["dimension", "value", "children", "incidents", *stats.institutions]
    rows = [head, _cells(stats.total, stats)]
    rows += [_cells(r, stats) for r in _shown(stats.rows)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    previous = ""
    for row in rows:
        if row[0] != previous and previous:
            lines.append("")
        previous = row[0]
        lines.append(
            "  ".join(
                v.rjust(w) if n > 1 else v.ljust(w)
                for n, (v, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
    lines.append("")
    if stats.estimate is not None:
        lines.append(_estimated(stats.estimate))
    lines.append(_footnote(stats))
    return "\n".join(lines) + "\n"


def to_csv(stats: Statistics) -> str:
    """Long format: one line per (dimension, value), every value of every dimension."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "year",
            "dimension",
            "value",
            "children",
            "incidents",
            *(f"notifications_{s}" for s in stats.institutions),
        ]
    )
    for row in [stats.total, *stats.rows]:
        writer.writerow([stats.year, *_cells(row, stats)])
    if stats.estimate is not None:  # the totals as estimated, beside the totals as counted
        found = stats.estimate
        writer.writerow(
            [
                stats.year,
                "total (estimated)",
                "all",
                f"{found.estimated_children:.1f}",
                f"{found.estimated_incidents:.1f}",
                *("" for _ in stats.institutions),
            ]
        )
    return out.getvalue()


def to_html(stats: Statistics) -> str:
    """One page: the totals, then per dimension a chart (children, incidents, and each
    institution's notifications side by side) and its table."""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Children notified of violence, {stats.year}</title>",
        "<style>body{font:14px sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse;margin:.5em 0 2em}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}"
        ".children{fill:#1f5f99}.incidents{fill:#7fb2df}.notifications{fill:#c8c8c8}</style>",
        "</head><body>",
        f"<h1>Children notified of violence, {stats.year}</h1>",
        f"<p><strong>{stats.total.children}</strong> distinct children in "
        f"<strong>{stats.total.incidents}</strong> incidents; the institutions notified "
        + ", ".join(f"{escape(s)} {n}" for s, n in stats.total.notifications.items())
        + ".</p>",
        *([f"<p>{escape(_estimated(stats.estimate))}</p>"] if stats.estimate is not None else []),
        f"<p>{escape(_footnote(stats))}</p>",
        '<p><svg width="420" height="20" role="img" aria-label="legend">'
        '<rect class="children" x="0" y="5" width="12" height="12"/>'
        '<text x="16" y="15">children</text>'
        '<rect class="incidents" x="100" y="5" width="12" height="12"/>'
        '<text x="116" y="15">incidents</text>'
        '<rect class="notifications" x="200" y="5" width="12" height="12"/>'
        '<text x="216" y="15">notifications (all institutions)</text></svg></p>',
    ]
    shown = _shown(stats.rows)
    for dimension in dict.fromkeys(r.dimension for r in shown):
        rows = [r for r in shown if r.dimension == dimension]
        parts.append(f"<h2>{escape(dimension)}</h2>")
        parts.append(_chart(rows))
        parts.append(_table(rows, stats))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _chart(rows: list[Row]) -> str:
    """Horizontal bars: children, incidents and all notifications of each value."""
    scale = max([1, *(max(r.children, r.incidents, sum(r.notifications.values())) for r in rows)])
    height = len(rows) * _LINE * 3 + 10
    width = _LABEL + _BAR_WIDTH + 80
    items = [f'<svg width="{width}" height="{height}" role="img">']
    for n, row in enumerate(rows):
        top = n * _LINE * 3 + 5
        items.append(f'<text x="0" y="{top + 20}">{escape(row.value)}</text>')
        figures = (
            ("children", row.children),
            ("incidents", row.incidents),
            ("notifications", sum(row.notifications.values())),
        )
        for k, (kind, value) in enumerate(figures):
            y = top + k * 20
            length = round(_BAR_WIDTH * value / scale)
            items.append(
                f'<rect class="{kind}" x="{_LABEL}" y="{y}" width="{length}" height="16">'
                f"<title>{kind}: {value}</title></rect>"
                f'<text x="{_LABEL + length + 4}" y="{y + 13}">{value}</text>'
            )
    items.append("</svg>")
    return "".join(items)


def _table(rows: list[Row], stats: Statistics) -> str:
    head = ["value", "children", "incidents", *stats.institutions]
    lines = ["<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        cells = _cells(row, stats)[1:]
        lines.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _cells(row: Row, stats: Statistics) -> list[str]:
    figures = [row.children, row.incidents, *(row.notifications[s] for s in stats.institutions)]
    return [row.dimension, row.value, *map(str, figures)]


#: Rows shown even when empty: "how many children died" must read 0, not be missing.
ALWAYS_SHOWN = frozenset({("outcome", "fatal")})


def _shown(rows: list[Row]) -> list[Row]:
    """Rows with anything in them, and the fatal outcome always (the CSV keeps them all)."""
    return [
        r
        for r in rows
        if r.children
        or r.incidents
        or any(r.notifications.values())
        or (r.dimension, r.value) in ALWAYS_SHOWN
    ]


def _estimated(found: Estimate) -> str:
    return (
        f"Estimated: {found.estimated_children:.0f} ± {found.children_sd:.0f} distinct children"
        f" (from {found.children_range[0]:.0f} to {found.children_range[1]:.0f} as the shares of"
        f" repeats range) in {found.estimated_incidents:.0f} ± {found.incidents_sd:.0f}"
        f" incidents ({found.incidents_range[0]:.0f} to {found.incidents_range[1]:.0f}), in"
        " expectation under the linkage model: the count less the children it could not tie"
        " that are likely children counted already. The figures by dimension are counts."
    )


def _footnote(stats: Statistics) -> str:
    return (
        f"{stats.unlinked} case(s) without a pseudonym could not be linked and count as children"
        f" of their own; {stats.ambiguous} case(s) referred to an incident with several possible"
        f" children and were not merged; {stats.possible} case(s) have a possible link listed"
        " for clerical review, not merged. Forms, relationships, setting, region and institution"
        " count an incident under each of its values."
    )
