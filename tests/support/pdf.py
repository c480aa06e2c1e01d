"""Reading a PDF back the way a person would get it: its text, its fonts, its first page."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image


def require_poppler() -> None:
    missing = [t for t in ("pdftotext", "pdffonts", "pdftoppm") if shutil.which(t) is None]
    assert not missing, f"{missing} missing: ./manage test installs poppler-utils"


def pdf_text(pdf: Path) -> str:
    """The text, all white space removed (lines wrap wherever the layout put them)."""
    # -raw: in the order it was drawn (the layout mode interleaves table columns and footers)
    out = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(pdf), "-"], capture_output=True)
    assert out.returncode == 0, out.stderr
    return re.sub(r"\s+", "", out.stdout.decode())


def pdf_fonts(pdf: Path) -> list[tuple[str, str]]:
    """``(name, embedded)`` of every font; ``pdffonts`` prints a header of two lines."""
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True)
    rows = [row.split() for row in out.stdout.splitlines()[2:] if row.strip()]
    # name, type (may hold spaces), encoding, emb, sub, uni, object, id: read from the right
    return [(row[0], row[-5]) for row in rows]


def ink_on_first_page(pdf: Path, folder: Path) -> int:
    """How many pixels of page 1, rendered at 50 dpi, are not (nearly) white."""
    subprocess.run(
        ["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(pdf), str(folder / "page")],
        check=True,
    )
    (png,) = folder.glob("page*.png")
    with Image.open(png) as image:
        pixels = np.asarray(image.convert("L"))
    return int((pixels < 200).sum())
