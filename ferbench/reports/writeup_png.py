"""The write-up table as a PNG: accuracy bars (the write-up's beside ours, ± std) above the table.

Matplotlib's Agg backend only (no display: safe in the API process); returns the PNG's bytes.
"""

from __future__ import annotations

import io
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ferbench.reports.writeup_table import COLUMNS, WriteupReport, cells  # noqa: E402

DPI = 100
_PNG_COLUMNS = COLUMNS[:-1]  # the long free-text column stays in the Markdown


def render_png(report: WriteupReport) -> bytes:
    rows = report.rows
    width = max(14.0, 1.2 * len(_PNG_COLUMNS))
    fig, (bars, table) = plt.subplots(2, 1, figsize=(width, 4.5 + 0.35 * (len(rows) + 1)),
                                      gridspec_kw={"height_ratios": [3, 0.4 + 0.3 * (len(rows) + 1)]})
    x = np.arange(len(rows))
    theirs = [np.nan if r.reported_accuracy is None else 100 * r.reported_accuracy for r in rows]
    ours = [np.nan if r.accuracy.mean is None else 100 * r.accuracy.mean for r in rows]
    errors = [np.nan if r.accuracy.std is None else 100 * r.accuracy.std for r in rows]
    bars.bar(x - 0.2, theirs, 0.4, label="the write-up (reported)", color="#9e9e9e")
    bars.bar(x + 0.2, ours, 0.4, yerr=errors, capsize=3, label="FER Bench (mean ± std)",
             color="#ef6c00" if report.quick else "#1565c0")
    bars.set_xticks(x, labels=[r.model + (" (quick)" if r.quick else "") for r in rows], rotation=30, ha="right")
    bars.set_xlim(-0.75, len(rows) - 0.25)
    bars.set_ylabel("test accuracy (%)")
    bars.set_ylim(0, 100)
    bars.legend(loc="upper right")
    bars.set_title("\n".join(textwrap.wrap(report.title, 150)), fontsize=10,
                   color="#b71c1c" if report.quick else "black")
    table.axis("off")
    drawn = table.table(cellText=[cells(r)[:len(_PNG_COLUMNS)] for r in rows] or [["-"] * len(_PNG_COLUMNS)],
                        colLabels=list(_PNG_COLUMNS), loc="center", cellLoc="center")
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(8)
    drawn.auto_set_column_width(list(range(len(_PNG_COLUMNS))))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()
