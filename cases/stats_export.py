"""The office's figures as files for the monthly report: CSV (UTF-8 with a BOM, so Excel reads
the Chinese), an Excel workbook (one sheet per table, Chinese headers) and a one-page PDF."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
from dataclasses import dataclass
from decimal import Decimal

from cases.pdf import FONT_FAMILY, render_pdf_async
from cases.stats import RATES, Report

MONTH_HEADERS = (
    "月份",
    "收到投诉（件）",
    "办结（件）",
    "调解成功（件）",
    "调解成功率",
    "挽回经济损失（元）",
)
CATEGORY_HEADERS = (
    "类别",
    "收到投诉（件）",
    "办结（件）",
    "按期办结（件）",
    "调解成功（件）",
    "调解成功率",
    "挽回经济损失（元）",
)
SHEETS = ("概况", "按月", "按类别")

Cell = int | float | Decimal | str | None


@dataclass(frozen=True)
class Heading:
    """What a file says about itself: whose figures, which period, when made."""

    office: str
    scope: str
    """e.g. ``全部案件`` or ``调解员 王调解员 · 类别 餐饮``."""
    generated_at: dt.datetime
    """In the office's time zone."""
    definitions: str


def percent(value: float | None, signed: bool = False) -> str:
    if value is None:
        return ""
    return f"{value * 100:+.2f}%" if signed else f"{value * 100:.2f}%"


def text(key: str, value: Cell, signed: bool = False) -> str:
    """A figure as people read it (rates in %, money with fen, medians with one decimal)."""
    if value is None:
        return ""
    if key in RATES:
        return percent(float(value), signed)
    if isinstance(value, Decimal):
        return f"{value:+.2f}" if signed else f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:+.1f}" if signed else f"{value:.1f}"
    return f"{value:+d}" if signed and isinstance(value, int) else str(value)


def _period(report: Report, previous: bool = False) -> str:
    p = report.previous_period if previous else report.period
    return f"{p.start.isoformat()} 至 {p.end.isoformat()}"


def tables(report: Report) -> dict[str, list[list[Cell]]]:
    """The three tables (header row first) with raw values: numbers stay numbers."""
    summary: list[list[Cell]] = [
        [
            "指标",
            f"本期（{_period(report)}）",
            f"上年同期（{_period(report, True)}）",
            "变化",
            "同比",
        ]
    ]
    for row in report.rows:
        summary.append([row.label, row.current, row.previous, row.change, row.change_ratio])
    months: list[list[Cell]] = [list(MONTH_HEADERS)]
    for m in report.months:
        months.append(
            [m.month, m.received, m.concluded, m.settled, m.success_rate, m.money_recovered]
        )
    categories: list[list[Cell]] = [list(CATEGORY_HEADERS)]
    for c in report.categories:
        categories.append(
            [
                c.category,
                c.received,
                c.concluded,
                c.on_time,
                c.settled,
                c.success_rate,
                c.money_recovered,
            ]
        )
    return {"概况": summary, "按月": months, "按类别": categories}


def _row_texts(report: Report) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    raw = tables(report)
    keys = [row.key for row in report.rows]
    out["概况"] = [[str(c) for c in raw["概况"][0]]] + [
        [
            str(values[0]),
            text(key, values[1]),
            text(key, values[2]),
            text(key, values[3], signed=True),
            percent(values[4] if isinstance(values[4], float) else None, signed=True),
        ]
        for key, values in zip(keys, raw["概况"][1:], strict=True)
    ]
    for name, rate_column in (("按月", 4), ("按类别", 5)):
        rows = [[str(c) for c in raw[name][0]]]
        for values in raw[name][1:]:
            rows.append(
                [
                    percent(v if isinstance(v, float) else None)
                    if i == rate_column
                    else text("", v)
                    for i, v in enumerate(values)
                ]
            )
        out[name] = rows
    return out


def to_csv(report: Report, heading: Heading) -> bytes:
    """One CSV file: a few lines about the file, then each table under its name, a blank line
    between them. UTF-8 with a BOM: Excel then opens the Chinese text correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["单位", heading.office])
    writer.writerow(["范围", heading.scope])
    writer.writerow(["期间", _period(report)])
    writer.writerow(["生成时间", heading.generated_at.strftime("%Y-%m-%d %H:%M")])
    for name, rows in _row_texts(report).items():
        writer.writerow([])
        writer.writerow([name])
        writer.writerows(rows)
    writer.writerow([])
    writer.writerow(["说明", heading.definitions])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(report: Report, heading: Heading) -> bytes:
    """An Excel workbook: one sheet per table (概况, 按月, 按类别) with Chinese headers and
    numbers as numbers, and a sheet 说明 saying whose figures, which period, when."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    first = True
    keys = [row.key for row in report.rows]
    for name, rows in tables(report).items():
        sheet = book.active if first else book.create_sheet()
        first = False
        sheet.title = name
        for r, values in enumerate(rows, start=1):
            for c, value in enumerate(values, start=1):
                cell = sheet.cell(r, c, float(value) if isinstance(value, Decimal) else value)
                if r == 1:
                    cell.font = Font(bold=True)
                    continue
                rate = (
                    (name == "概况" and (c == 5 or (c > 1 and keys[r - 2] in RATES)))
                    or (name == "按月" and c == 5)
                    or (name == "按类别" and c == 6)
                )
                if rate:
                    cell.number_format = "0.00%"
                elif isinstance(value, Decimal):
                    cell.number_format = "#,##0.00"
        sheet.column_dimensions["A"].width = 34 if name == "概况" else 14
        for column in "BCDEFG":
            sheet.column_dimensions[column].width = 18
    about = book.create_sheet("说明")
    for row in (
        ("单位", heading.office),
        ("范围", heading.scope),
        ("期间", _period(report)),
        ("上年同期", _period(report, True)),
        ("生成时间", heading.generated_at.strftime("%Y-%m-%d %H:%M")),
        ("口径", heading.definitions),
    ):
        about.append(list(row))
    about.column_dimensions["A"].width = 12
    about.column_dimensions["B"].width = 80
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def summary_html(report: Report, heading: Heading) -> str:
    """The one-page summary (A4): the figures against a year earlier, and by category."""
    e = html.escape
    texts = _row_texts(report)

    def table(rows: list[list[str]]) -> str:
        head = "".join(f"<th>{e(c)}</th>" for c in rows[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows[1:]
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    categories = [texts["按类别"][0]] + [
        row
        for row, c in zip(texts["按类别"][1:], report.categories, strict=True)
        if c.received or c.concluded
    ]
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<style>
@page {{ size: A4; margin: 12mm 14mm; }}
body {{ font-family: "{FONT_FAMILY}"; font-size: 8.5pt; color: #111; }}
h1 {{ font-size: 14pt; margin: 0 0 2mm; }}
p.meta {{ margin: 0 0 3mm; color: #333; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 3mm; }}
th, td {{ border: 0.5pt solid #999; padding: 0.6mm 1.5mm; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
th {{ background: #eee; }}
h2 {{ font-size: 10pt; margin: 2mm 0 1mm; }}
p.note {{ font-size: 7pt; color: #444; }}
</style></head><body>
<h1>消费纠纷调解工作统计</h1>
<p class="meta">单位：{e(heading.office)}　范围：{e(heading.scope)}<br>
期间：{e(_period(report))}（上年同期 {e(_period(report, True))}）<br>
生成时间：{e(heading.generated_at.strftime("%Y-%m-%d %H:%M"))}</p>
{table(texts["概况"])}
<h2>按类别</h2>
{table(categories)}
<p class="note">{e(heading.definitions)}</p>
</body></html>"""


async def to_pdf(report: Report, heading: Heading) -> bytes:
    """The one-page summary as a PDF (made in a child process by :mod:`cases.pdf`)."""
    return await render_pdf_async(summary_html(report, heading))
