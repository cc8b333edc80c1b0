"""Odd content is that URL's error, or read as a browser would: never "internal error", never the
loss of the other URLs' results (issue 14: items 1 and 2)."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from gptme_trio.core.errors import ContentError
from gptme_trio.fetch import extract

from .support.pages import make_pdf


@pytest.fixture
def fetch(run_cli):
    return lambda *args, **kwargs: run_cli("fetch", "-q", *args, **kwargs)


@pytest.mark.parametrize("engine", ["http", "browser"])
def test_a_body_full_of_nul_bytes_is_read_and_the_run_goes_on(fetch, tmp_path, engine):
    nul = tmp_path / "nul.html"
    nul.write_bytes(b"<html><body><p>before the zeros</p>" + b"\x00" * 200_000 + b"<p>after</p></body></html>")
    zeros = tmp_path / "zeros.txt"
    zeros.write_bytes(b"\x00" * 100_000)
    plain = tmp_path / "plain.html"
    plain.write_text("<html><body><p>an ordinary page</p></body></html>")
    result = fetch("--engine", engine, str(nul), str(zeros), str(plain))
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0, err
    assert "before the zeros" in out and "an ordinary page" in out
    assert "internal error" not in err and "Traceback" not in err


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=4000), zeros=st.integers(0, 20_000))
def test_any_bytes_convert_or_are_a_content_error(body, zeros):
    html = extract.decode_html(body + b"\x00" * zeros, "text/html")
    for convert in (extract.to_markdown, extract.to_text):
        for main in (True, False):
            with contextlib.suppress(ContentError):
                assert isinstance(convert(html, main=main), str)


def _encrypted(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf("Sealed but readable"))))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_an_aes_pdf_with_an_empty_user_password_is_read(fetch, tmp_path):
    path = tmp_path / "aes.pdf"
    path.write_bytes(_encrypted(""))
    result = fetch(str(path))
    assert result.returncode == 0, result.stderr.decode()
    assert "Sealed but readable" in result.stdout.decode()


def test_a_pdf_that_needs_a_password_is_that_urls_error(fetch, tmp_path):
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(_encrypted("user-secret"))
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(make_pdf("An open PDF"))
    result = fetch(str(locked), str(plain))
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 1, err
    assert "encrypted PDF (it needs a password)" in err and "internal error" not in err
    assert "An open PDF" in out


def test_a_png_of_a_pdf_is_a_clear_error_and_pdf_is_the_file_itself(fetch, site, tmp_path):
    """Headless Chromium has no PDF viewer: the old code wrote a blank PNG and exit 0 (item 16)."""
    local = tmp_path / "doc.pdf"
    local.write_bytes(make_pdf("Hello from a local PDF"))
    for source in (site.url("/doc.pdf"), site.url("/pdf-no-ext"), str(local)):
        shot = tmp_path / "shot.png"
        ran = fetch("-f", "png", "-o", str(shot), source)
        assert ran.returncode == 1, source
        assert "cannot make a png of a PDF" in ran.stderr.decode()
        assert not shot.exists()
        copy = tmp_path / "copy.pdf"
        ran = fetch("-f", "pdf", "-o", str(copy), source)
        assert ran.returncode == 0, ran.stderr
        assert PdfReader(io.BytesIO(copy.read_bytes())).pages[0].extract_text().startswith("Hello from a")
