"""HTML to PDF with WeasyPrint, in a child process.

Laying out a document costs the CPU a second or more; the server's event loop also relays live
media, so the work runs in a low-priority child process (:class:`PdfRenderer`). WeasyPrint is
imported there only.

Two ways a Chinese PDF goes wrong without an error, both turned into :class:`PdfError` here: a
character no installed font has (WeasyPrint draws an empty box and only logs a warning), and the
CJK font missing altogether (fontconfig quietly substitutes another font, and ``pdftotext`` still
reads the text back).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time

from cases.errors import CaseError

logger = logging.getLogger(__name__)

FONT_FAMILY = "Noto Sans CJK SC"
"""The font family of every document (Debian's ``fonts-noto-cjk``)."""

EMOJI_FAMILY = "Noto Color Emoji"
"""For the emoji of chat messages (Debian's ``fonts-noto-color-emoji``); without it a 👍 has no
glyph and the PDF is refused."""

RENDER_TIMEOUT = 120.0
"""Seconds after which a render is given up (1000 entries, 51 pages, took ≈ 7 s here)."""

WORKER_NICE = 10
"""The worker's niceness: the media relay comes first."""


class PdfError(CaseError):
    """A PDF could not be made faithfully."""

    code = "pdf_failed"


class MissingGlyphs(PdfError):
    """The text holds characters that no installed font can draw."""

    code = "pdf_missing_glyphs"

    def __init__(self, characters: str) -> None:
        codes = ", ".join(f"U+{ord(c):04X}" for c in characters)
        super().__init__(f"no font can draw {characters} ({codes}); the PDF would show boxes")
        self.characters = characters


class _WeasyPrintLog(logging.Handler):
    """Collects what WeasyPrint warns about while one document is rendered."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.missing: list[str] = []
        self.other: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # draw/text.py: '.notdef glyph rendered for Unicode string unsupported by fonts: "%s"
        # (U+%04X)' — args[0] is the character.
        if "glyph" in str(record.msg) and record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            self.missing.append(str(args[0]))
        else:
            self.other.append(record.getMessage())


def render_pdf(html: str) -> bytes:
    """The PDF of a self-contained HTML document (blocking; see :func:`render_pdf_async`).

    Raises :class:`MissingGlyphs` if a character cannot be drawn and :class:`PdfError` if the
    document did not come out in :data:`FONT_FAMILY`. The document may fetch nothing: no
    files, no network.
    """
    import weasyprint  # the server process never loads it (pango, fonts)
    from weasyprint.urls import URLFetcher

    log = _WeasyPrintLog()
    weasy_logger = logging.getLogger("weasyprint")
    weasy_logger.addHandler(log)
    try:
        document = weasyprint.HTML(
            string=html,
            # No allowed protocol, and a refused fetch stops the render: nothing in the
            # document (escaped user text included) can read a file or reach the network.
            url_fetcher=URLFetcher(allowed_protocols=frozenset(), fail_on_errors=True),
        ).render()
        pdf = document.write_pdf()
    finally:
        weasy_logger.removeHandler(log)
    for message in log.other:
        logger.warning("WeasyPrint: %s", message)
    if log.missing:
        missing = "".join(dict.fromkeys(log.missing))
        logger.error("PDF refused: missing glyphs %r", missing)
        raise MissingGlyphs(missing)
    families = {font.family for font in document.fonts.values()}
    if FONT_FAMILY not in families:
        logger.error("PDF refused: fonts %s used instead of %s", sorted(families), FONT_FAMILY)
        raise PdfError(
            f"the document came out in {', '.join(sorted(families))}, not {FONT_FAMILY}: "
            "is fonts-noto-cjk installed?"
        )
    if families - {FONT_FAMILY, EMOJI_FAMILY}:
        # Drawn correctly, by a font fontconfig found for a few characters (☺ in DejaVu…).
        logger.info("PDF: some characters drawn in %s", sorted(families - {FONT_FAMILY}))
    assert isinstance(pdf, bytes)
    return pdf


class PdfRenderer:
    """Makes PDFs in a child process (``python -m cases.pdf``), one document at a time.

    A fresh interpreter per document rather than a process pool: a spawned pool worker
    re-imports the parent's ``__main__`` (for the server, aiortc and all), a forked one inherits
    the server's threads; a child of our own starts clean, can be killed when it overruns, and
    gives its memory back. It costs the start and WeasyPrint's import, ≈ 0.7 s.
    """

    def __init__(self, timeout: float = RENDER_TIMEOUT) -> None:
        self.timeout = timeout
        self._turn: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._turn is None or self._loop is not loop:
            self._turn, self._loop = asyncio.Lock(), loop
        return self._turn

    async def render(self, html: str) -> bytes:
        """The PDF of ``html``; the event loop only waits for the child."""
        async with self._lock():
            started = time.perf_counter()
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                __name__,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                out, err = await asyncio.wait_for(
                    child.communicate(html.encode("utf-8")), self.timeout
                )
            except BaseException as exc:  # a timeout, or the request was cancelled
                if child.returncode is None:
                    child.kill()
                    await child.wait()
                logger.error("PDF render stopped after %.1f s", time.perf_counter() - started)
                if isinstance(exc, TimeoutError):
                    raise PdfError(f"the PDF took longer than {self.timeout:.0f} s") from exc
                raise
            seconds = time.perf_counter() - started
        if child.returncode != 0:
            raise _child_error(err, child.returncode)
        if err.strip():  # WeasyPrint's other warnings, logged by the child
            logger.warning("PDF child said: %s", err.decode("utf-8", "replace").strip())
        logger.info("PDF of %d characters: %d bytes in %.2f s", len(html), len(out), seconds)
        return out


def _child_error(stderr: bytes, returncode: int | None) -> PdfError:
    """The error the child reported on its last stderr line (JSON), or a generic one."""
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    try:
        reported = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        reported = None
    error: PdfError
    if isinstance(reported, dict) and reported.get("code") == MissingGlyphs.code:
        error = MissingGlyphs(str(reported.get("characters", "")))
    elif isinstance(reported, dict) and reported.get("code") == PdfError.code:
        error = PdfError(str(reported.get("message", "")))
    else:
        logger.error("PDF child failed (exit %s): %s", returncode, "\n".join(lines[-20:]))
        return PdfError(f"the PDF could not be made (exit {returncode}); the server log says why")
    logger.error("PDF refused: %s", error.message)
    return error


_default = PdfRenderer()


async def render_pdf_async(html: str) -> bytes:
    """:func:`render_pdf` in a child process, at most one at a time per event loop."""
    return await _default.render(html)


def main() -> int:
    """Child side: HTML on stdin, PDF on stdout; a refusal as one JSON line on stderr."""
    os.nice(WORKER_NICE)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    html = sys.stdin.buffer.read().decode("utf-8")
    try:
        pdf = render_pdf(html)
    except MissingGlyphs as exc:
        print(json.dumps({"code": exc.code, "characters": exc.characters}), file=sys.stderr)
        return 2
    except PdfError as exc:
        print(json.dumps({"code": exc.code, "message": exc.message}), file=sys.stderr)
        return 2
    sys.stdout.buffer.write(pdf)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
