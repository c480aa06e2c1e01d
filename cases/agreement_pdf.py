"""The sealed settlement agreement as a printable page and a PDF (调解协议书).

The page holds the agreement's canonical text, each signature with the signer's name, role and
time, the date and place, the text's SHA-256 and the verification code with where to check it.

The PDF is made by :func:`cases.pdf.render_pdf_async`, whose renderer may fetch nothing (not even
``data:`` URLs), so a signature image is drawn as inline SVG: its ink traced into one path of
horizontal runs at print resolution. The PNG itself, with its hash, stays in the case record.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import io
from typing import Any
from zoneinfo import ZoneInfo

from cases.models import Agreement, Signature
from cases.pdf import FONT_FAMILY, render_pdf_async

ROLE_LABELS = {"consumer": "消费者", "business": "商家", "mediator": "调解员"}
ROLE_ORDER = {"consumer": 0, "business": 1, "mediator": 2}

TRACE_WIDTH = 480
TRACE_HEIGHT = 160
"""The largest traced signature, in SVG units (about 4 px per mm at the printed size)."""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def signature_svg(png: bytes, *, label: str) -> str:
    """The ink of a signature PNG as an inline SVG (dark, opaque pixels become filled runs)."""
    from PIL import Image

    with Image.open(io.BytesIO(png), formats=["PNG"]) as img:
        rgba = img.convert("RGBA")
    flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    flat.alpha_composite(rgba)
    gray = flat.convert("L")
    mask = gray.point(lambda v: 255 if v <= 160 else 0)
    box = mask.getbbox()
    if box is None:  # sign() refuses blank pads; an old file could still be one
        return f'<svg class="sig" role="img" aria-label="{_e(label)}" viewBox="0 0 1 1"></svg>'
    left, top, right, bottom = box
    pad = 4
    gray = gray.crop(
        (max(0, left - pad), max(0, top - pad), min(gray.width, right + pad),
         min(gray.height, bottom + pad))
    )  # fmt: skip
    scale = min(1.0, TRACE_WIDTH / gray.width, TRACE_HEIGHT / gray.height)
    if scale < 1.0:
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        gray = gray.resize(size, Image.Resampling.LANCZOS)
    width, height = gray.size
    pixels = gray.tobytes()
    parts: list[str] = []
    for y in range(height):
        row = pixels[y * width : (y + 1) * width]
        x = 0
        while x < width:
            if row[x] <= 160:
                start = x
                while x < width and row[x] <= 160:
                    x += 1
                parts.append(f"M{start} {y}h{x - start}v1h{start - x}z")
            else:
                x += 1
    return (
        f'<svg class="sig" role="img" aria-label="{_e(label)}" '
        f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMid meet">'
        f'<path fill="#111" d="{"".join(parts)}"/></svg>'
    )


_CSS = f"""
@page {{
  size: A4;
  margin: 18mm 18mm 20mm 18mm;
  font-family: '{FONT_FAMILY}';
  @bottom-left {{ content: "调解协议书 " string(case-number); font-size: 8pt; color: #666; }}
  @bottom-right {{
    content: "第 " counter(page) " 页 / 共 " counter(pages) " 页"; font-size: 8pt; color: #666;
  }}
}}
html {{ font-family: '{FONT_FAMILY}'; color: #111; background: #fff; }}
body {{ margin: 0; font-size: 11pt; line-height: 1.7; overflow-wrap: break-word; }}
h1 {{ font-size: 20pt; letter-spacing: 0.4em; text-align: center; margin: 0 0 4px; }}
.subtitle {{ text-align: center; color: #333; margin: 0 0 14px; }}
.case-number {{ string-set: case-number content(text); font-weight: bold; }}
h2 {{ font-size: 12.5pt; margin: 14px 0 4px; break-after: avoid; }}
p {{ margin: 0 0 2px; }}
p.clause {{ padding-left: 1.5em; text-indent: -1.5em; }}
.gap {{ height: 6px; }}
section.signatures {{ margin-top: 18px; border-top: 1px solid #999; padding-top: 8px;
  break-inside: avoid; }}
table {{ width: 100%; border-collapse: collapse; table-layout: fixed; }}
td {{ border: 1px solid #bbb; padding: 4px 8px; vertical-align: middle; }}
td.role {{ width: 16%; font-weight: bold; }}
td.name {{ width: 20%; }}
td.image {{ width: 36%; height: 22mm; }}
td.time {{ width: 28%; font-size: 9.5pt; }}
svg.sig {{ width: 55mm; height: 18mm; display: block; }}
.place {{ margin-top: 10px; }}
footer {{ margin-top: 14px; padding-top: 6px; border-top: 1px solid #999; font-size: 9pt;
  color: #222; break-inside: avoid; }}
.hash {{ overflow-wrap: anywhere; word-break: break-all; }}
.code {{ font-size: 12pt; font-weight: bold; letter-spacing: 0.08em; white-space: nowrap; }}
"""


def _text_html(text: str) -> str:
    """The canonical text as paragraphs; ``#``/``##`` lines become headings, the first
    ``#`` heading is the page title (shown in the header instead)."""
    out: list[str] = []
    title_seen = False
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("## "):
            out.append(f"<h2>{_e(stripped[3:])}</h2>")
        elif stripped.startswith("# "):
            if title_seen:
                out.append(f"<h2>{_e(stripped[2:])}</h2>")
            title_seen = True
        elif not stripped:
            out.append('<div class="gap"></div>')
        elif stripped[:1].isdigit() and ". " in stripped[:5]:
            out.append(f'<p class="clause">{_e(stripped)}</p>')
        else:
            out.append(f"<p>{_e(stripped)}</p>")
    return "".join(out)


def _title(text: str) -> str:
    for line in text.split("\n"):
        if line.startswith("# "):
            return line[2:].strip()
    return "调解协议书"


def _local(at: dt.datetime | None, zone: ZoneInfo) -> dt.datetime | None:
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(zone)


def render_html(
    agreement: Agreement,
    sigs: list[Signature],
    images: dict[int, bytes],
    *,
    case_number: str,
    place: str,
    verify_url: str = "/verify",
    timezone: str = "Asia/Shanghai",
) -> str:
    """The sealed agreement as one self-contained page: inline CSS and SVG, nothing fetched;
    every value from the record escaped."""
    zone = ZoneInfo(timezone)
    rows = []
    for sig in sorted(sigs, key=lambda s: (ROLE_ORDER.get(s.role, 9), s.id)):
        role = ROLE_LABELS.get(sig.role, sig.role)
        when = _local(sig.signed_at, zone)
        rows.append(
            "<tr>"
            f'<td class="role">{_e(role)}</td>'
            f'<td class="name">{_e(sig.name)}</td>'
            f'<td class="image">{signature_svg(images[sig.id], label=f"{role} {sig.name} 签名")}'
            "</td>"
            f'<td class="time">{_e(when.strftime("%Y-%m-%d %H:%M") if when else "")}</td>'
            "</tr>"
        )
    sealed = _local(agreement.sealed_at, zone)
    sealed_day = f"{sealed.year}年{sealed.month}月{sealed.day}日" if sealed else ""
    title = _title(agreement.text)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{_e(title)} · {_e(case_number)}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f'<p class="subtitle">案件编号 <span class="case-number">{_e(case_number)}</span></p>'
        f"{_text_html(agreement.text)}"
        '<section class="signatures"><h2>签名</h2>'
        "<table><tbody>"
        f"{''.join(rows)}"
        "</tbody></table>"
        f'<p class="place">签订日期：{_e(sealed_day)}　　签订地点：{_e(place)}</p>'
        "</section>"
        "<footer>"
        f'<p>协议文本 SHA-256：<span class="hash">{_e(agreement.text_sha256)}</span></p>'
        f'<p>核验码：<span class="code">{_e(agreement.verification_code)}</span></p>'
        f"<p>核验方法：打开 {_e(verify_url)} ，输入核验码，可查看本协议的签订日期和文本哈希，"
        "并可上传本 PDF 核对是否与存档一致。</p>"
        "</footer>"
        "</body></html>\n"
    )


async def render_agreement_pdf(
    agreement: Agreement,
    sigs: list[Signature],
    images: dict[int, bytes],
    *,
    case_number: str,
    place: str,
    verify_url: str = "/verify",
    timezone: str = "Asia/Shanghai",
) -> bytes:
    """The PDF of :func:`render_html`, made in a child process."""
    # Tracing the signatures is plain Python over pixels: off the event loop.
    page = await asyncio.to_thread(
        render_html,
        agreement,
        sigs,
        images,
        case_number=case_number,
        place=place,
        verify_url=verify_url,
        timezone=timezone,
    )
    return await render_pdf_async(page)
