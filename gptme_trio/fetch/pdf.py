"""The text of a PDF (pypdf): its errors end here, as ContentError.

to_text(body, url=url)    every page's text, pages apart by a blank line
"""

from __future__ import annotations

import io

from gptme_trio.core.errors import ContentError


def to_text(body: bytes, *, url: str = "") -> str:
    """The text of a PDF. An encrypted PDF is read when its user password is empty (common: an owner
    password only restricts printing or copying)."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import PdfReadError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(body))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise ContentError("encrypted PDF (it needs a password)", url=url)
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise ContentError(f"not a readable PDF ({exc})", url=url) from exc
    except PyPdfError as exc:  # a missing dependency, a file that is not decrypted, ...
        raise ContentError(f"not a readable PDF ({type(exc).__name__}: {exc})", url=url) from exc
    return "\n\n".join(p for p in pages if p) + "\n"
