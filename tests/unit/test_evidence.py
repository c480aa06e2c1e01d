"""Evidence is recognised by its first bytes, never by its name; names are kept, cleaned."""

from __future__ import annotations

import pytest

from cases.evidence import MAX_EVIDENCE_BYTES, SNIFF_BYTES, clean_filename, evidence_path, sniff


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    """An ISO-BMFF file's first box: size, ``ftyp``, major brand, minor version, brands."""
    body = b"ftyp" + major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return (len(body) + 4).to_bytes(4, "big") + body


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
HEIC = ftyp(b"heic", b"mif1", b"heic") + b"\x00\x00\x00\x00meta"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (JPEG, ("image/jpeg", ".jpg")),
        (b"\xff\xd8\xff", ("image/jpeg", ".jpg")),
        (PNG, ("image/png", ".png")),
        (PDF, ("application/pdf", ".pdf")),
        (HEIC, ("image/heic", ".heic")),
        (ftyp(b"mif1", b"heic"), ("image/heic", ".heic")),  # HEIF: major brand mif1
        (ftyp(b"msf1", b"hevc"), ("image/heic", ".heic")),  # an image sequence
        (ftyp(b"heix"), ("image/heic", ".heic")),  # 10-bit, no compatible brands
        (ftyp(b"isom", b"heim"), ("image/heic", ".heic")),  # only a compatible brand says HEIF
    ],
)
def test_accepted_types_are_recognised_by_content(head: bytes, expected: tuple[str, str]) -> None:
    assert sniff(head) == expected
    assert sniff(head[:SNIFF_BYTES]) == expected


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 40
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"PE\x00\x00"


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(ELF, id="elf-executable"),
        pytest.param(PE, id="windows-executable"),
        pytest.param(b"#!/bin/sh\nrm -rf ~\n", id="shell-script"),
        pytest.param(b"PK\x03\x04\x14\x00\x00\x00\x08\x00", id="zip"),
        pytest.param(b"<!DOCTYPE html><html><script>alert(1)</script>", id="html"),
        pytest.param(b"<html><body><img src=x onerror=alert(1)>", id="html-no-doctype"),
        pytest.param(
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script/></svg>',
            id="svg",
        ),
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', id="svg-bare"),
        pytest.param(b"GIF89a\x01\x00\x01\x00", id="gif"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xd8", id="two-bytes-of-jpeg"),
        pytest.param(b"%PD", id="three-bytes"),
        pytest.param(b" %PDF-1.7", id="pdf-not-at-the-start"),
        pytest.param(b"\x89PNG\r\n", id="png-cut-short"),
        pytest.param(ftyp(b"isom", b"mp41"), id="mp4-video"),
        pytest.param(ftyp(b"avif", b"mif1", b"miaf"), id="avif"),
        pytest.param(b"\x00\x00\x00\x01ftypheic\x00\x00\x00\x00", id="ftyp-64-bit-size"),
        pytest.param(b"\x00\x00\x00\x18ftyp", id="ftyp-cut-short"),
    ],
)
def test_anything_else_is_refused(head: bytes) -> None:
    assert sniff(head) is None


def test_a_disguised_executable_is_refused_whatever_its_name() -> None:
    # sniff sees bytes only: there is no name or browser type it could be fooled by.
    assert sniff(ELF + JPEG) is None
    assert sniff(JPEG + ELF) == ("image/jpeg", ".jpg")


def test_the_limit_is_20_mib() -> None:
    assert MAX_EVIDENCE_BYTES == 20 * 1024 * 1024


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("收据.jpg", "收据.jpg"),
        ("C:\\Users\\li\\Desktop\\合同.pdf", "合同.pdf"),
        ("../../etc/passwd", "passwd"),
        ("photo\r\nX-Injected: 1.jpg", "photoX-Injected: 1.jpg"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),  # no right-to-left override trick
        ("  ..  ", "evidence.png"),
        ("", "evidence.png"),
        (None, "evidence.png"),
    ],
)
def test_file_names_are_cleaned(name: str | None, expected: str) -> None:
    assert clean_filename(name, ".png") == expected


def test_long_file_names_keep_their_extension() -> None:
    cleaned = clean_filename("票" * 400 + ".jpeg", ".jpg")
    assert len(cleaned) == 255 and cleaned.endswith("票.jpeg")
    assert len(clean_filename("x" * 400, ".jpg")) == 255


def test_files_are_kept_by_content_in_one_folder_per_case() -> None:
    digest = "ab" * 32
    assert evidence_path(7, digest, ".pdf") == f"evidence/case-7/{digest}.pdf"
