"""Small SVG charts and maps for printable reports: no JavaScript, no external assets.

Every value drawn is escaped; the markup is ours, so templates may mark it safe.
"""

from __future__ import annotations

from html import escape

PALETTE = ("#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#c62828", "#00838f")


def bar_chart(
    categories: list[str],
    series: list[tuple[str, list[float | None]]],
    *,
    title: str,
    unit: str = "",
    width: int = 640,
    height: int = 260,
) -> str:
    """A grouped bar chart: one group per category, one bar per series (None: no bar)."""
    left, right, top, bottom = 56, 12, 28, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, vs in series for v in vs if v is not None]
    peak = max([*values, 0.0]) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="11">',
        f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#444"/>',
    ]
    for i in range(5):
        tick = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{tick:,.1f}</text>')
    if unit:
        parts.append(f'<text x="4" y="{top - 8}" fill="#555">{escape(unit)}</text>')
    group_w = plot_w / max(len(categories), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    for c, category in enumerate(categories):
        x0 = left + c * group_w + group_w * 0.1
        for s, (_, vs) in enumerate(series):
            value = vs[c] if c < len(vs) else None
            if value is None:
                continue
            h = plot_h * max(value, 0.0) / peak
            x = x0 + s * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w * 0.92:.1f}" height="{h:.1f}"'
                f' fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(category)}: {value:,.2f}</title></rect>'
            )
        parts.append(
            f'<text x="{x0 + group_w * 0.4:.1f}" y="{top + plot_h + 14}" text-anchor="middle">{escape(category)}</text>'
        )
    for s, (name, _) in enumerate(series):
        x = left + s * 130
        parts.append(f'<rect x="{x}" y="{height - 16}" width="10" height="10" fill="{PALETTE[s % len(PALETTE)]}"/>')
        parts.append(f'<text x="{x + 14}" y="{height - 7}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def parcel_map(
    shapes: list[tuple[str, str, str]],
    outlines: list[str],
    extent: tuple[float, float, float, float],
    legend: list[tuple[str, str]],
    *,
    title: str,
    width: int = 640,
) -> str:
    """A static map from SVG path data in GK metres with y negated (PostGIS ``ST_AsSVG``).

    ``shapes`` are (path, fill colour, tooltip); ``outlines`` zone boundaries; ``extent`` is
    (xmin, ymin, xmax, ymax) in the same metres (y not negated).
    """
    xmin, ymin, xmax, ymax = extent
    span_x, span_y = max(xmax - xmin, 1.0), max(ymax - ymin, 1.0)
    pad = 0.03 * max(span_x, span_y)
    height = int(width * (span_y + 2 * pad) / (span_x + 2 * pad)) + 40
    stroke = max(span_x, span_y) / 1500
    box = f"{xmin - pad:.1f} {-ymax - pad:.1f} {span_x + 2 * pad:.1f} {span_y + 2 * pad:.1f}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="11">',
        f'<text x="4" y="14" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<svg x="0" y="20" width="{width}" height="{height - 40}" viewBox="{box}" preserveAspectRatio="xMidYMid meet">',
    ]
    for path, fill, tip in shapes:
        parts.append(
            f'<path d="{escape(path)}" fill="{fill}" stroke="#555" stroke-width="{stroke:.2f}">'
            f"<title>{escape(tip)}</title></path>"
        )
    for path in outlines:
        parts.append(f'<path d="{escape(path)}" fill="none" stroke="#1a237e" stroke-width="{stroke * 3:.2f}"/>')
    parts.append("</svg>")
    for i, (label, fill) in enumerate(legend):
        x = 4 + i * 110
        parts.append(f'<rect x="{x}" y="{height - 16}" width="10" height="10" fill="{fill}" stroke="#555"/>')
        parts.append(f'<text x="{x + 14}" y="{height - 7}">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
