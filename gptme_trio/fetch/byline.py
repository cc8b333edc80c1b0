"""What a page shows under its title: the byline's author and date, for pages that declare neither.

Many pages declare no author or date in <meta> or JSON-LD but show them as text right below the
<h1>: "By Jane Doe · March 5, 2024". `shown(html)` reads the first few hundred characters of text
after the first <h1> (scripts, styles and comments skipped) and returns the first date written
there (`March 5, 2024`, `5th Mar 2024`, `2024-03-05`; never an ambiguous `03/05/2024`) and the
first "By NAME" (two to four capitalised words). read_meta uses them only where the page declares
nothing: on wcxb-dev that takes dates right from 62 % to 79 % and authors from 58 % to 69 % of the
pages with a truth (bench/results/metadata.md).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html as htmllib
import re

_H1 = re.compile(r"<h1[\s>]", re.IGNORECASE)
_HTML_AFTER = 15_000  # characters of HTML after the <h1> that are looked at (40,000: same answers, 2x the time)
_TEXT = 500  # characters of text after the <h1>'s start in which the byline must be
_SKIP = re.compile(r"<(script|style|noscript|svg|template)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"[ \t\r\f\v\xa0]+")
_LINES = re.compile(r"\s*\n\s*")
_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")

_MONTH_NAMES = (
    "jan january|feb february|mar march|apr april|may|jun june|jul july|aug august|sep sept september|oct october"
    "|nov november|dec december"
)
_MONTHS = {name: n for n, names in enumerate(_MONTH_NAMES.split("|"), 1) for name in names.split()}
_MONTH = rf"({'|'.join(sorted(_MONTHS, key=len, reverse=True))})\.?"
_DATE = re.compile(
    rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b"  # March 5, 2024
    rf"|\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+(\d{{4}})\b"  # 5th of March 2024
    r"|\b(\d{4})-(\d{2})-(\d{2})\b",  # 2024-03-05
    re.IGNORECASE,
)
_NAME_WORD = r"[A-Z][\w'’.-]*"
_BY = re.compile(
    rf"(?:^|\n|[|·•—–] )(?:[Bb]y|BY|Written by|Author:|Posted by)\s*:?\s+"  # a byline starts its element
    rf"({_NAME_WORD}(?: (?:{_NAME_WORD}|(?:der|den|van|von|bin|de|da|di|la|le)\b)){{1,3}})"
)
# Words that end a name: what follows a byline on the same line ("By Jane Doe Updated March 5").
_NOT_NAME = {
    *(m.capitalize() for m in _MONTHS),
    *"""Posted Updated Published Released Reviewed Edited Last Skip Share Follow Read Email Staff Writer On In At
    For Fact Checked Medically Contributor Editor Team Subscribe Comments Comment Minute Min Photo""".split(),  # noqa: SIM905
}


def shown(html: str) -> tuple[str | None, str | None]:
    """(author, ISO date) written right below the first <h1>, each None when none is."""
    h1 = _H1.search(html)
    if h1 is None:
        return None, None
    chunk = _SKIP.sub(" ", html[h1.start() : h1.start() + _HTML_AFTER])
    text = _LINES.sub("\n", _SPACE.sub(" ", htmllib.unescape(_TAG.sub("\n", chunk))))[:_TEXT]
    return _author(text), _date(text)


def _author(text: str) -> str | None:
    match = _BY.search(text)
    if match is None:
        return None
    words = match.group(1).split()
    for i, word in enumerate(words):
        if word.rstrip(".,") in _NOT_NAME or word.isupper() and len(word) > 3:
            words = words[:i]
            break
    words = [w.rstrip(",") for w in words]
    return " ".join(words) if len(words) >= 2 else None


def _date(text: str) -> str | None:
    for match in _DATE.finditer(text):
        g = match.groups()
        try:
            if g[0]:
                day = dt.date(int(g[2]), _MONTHS[g[0].lower()], int(g[1]))
            elif g[4]:
                day = dt.date(int(g[5]), _MONTHS[g[4].lower()], int(g[3]))
            else:
                day = dt.date(int(g[6]), int(g[7]), int(g[8]))
        except (ValueError, KeyError):
            continue
        if 1990 <= day.year <= dt.date.today().year + 1:
            return day.isoformat()
    return None


def iso_date(value: str | None) -> str | None:
    """An ISO 8601 date (or date and time, as given) from a date a page declares; None if it is none."""
    if not value or len(value) > 100:
        return None
    parsed = _parse_date(value.strip())
    return parsed.isoformat() if parsed is not None and 1900 <= parsed.year <= 2200 else None


def _parse_date(text: str) -> dt.date | None:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
        return moment.date() if len(text) <= 10 else moment
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    match = _ISO.search(text)
    try:
        return dt.date(*map(int, match.groups())) if match else None
    except ValueError:
        return None
