"""Whether a page the http engine read is an empty JavaScript shell: scripts, and (nearly) no text a
reader sees without them (fetch/engines/http.py then says so, suggesting --engine browser).

Most pages are told by a scan of the body that stops at three shown words; the rest are parsed.
"""

from __future__ import annotations

import html as htmllib
import re

from gptme_trio.fetch.extract import parse_for_blocks

_WORDS = re.compile(r"\w+")
_SHELL_WORDS = 3  # fewer words than this outside scripts and styles: nothing to read without JavaScript
_SCRIPT = re.compile(r"<script\b", re.IGNORECASE)
_NOT_TEXT = frozenset({"script", "style", "template"})


def is_script_shell(html: str) -> bool:
    """Whether `html` is an empty JavaScript shell: scripts, and (nearly) no text without them.
    Text in <noscript> counts: a page that says something to readers without JavaScript is content."""
    if not _SCRIPT.search(html) or _words_shown(html):
        return False
    root = parse_for_blocks(html)
    body = root.find("body") if root is not None else None
    if body is None:
        return True
    words = 0
    for el in body.iter():
        if isinstance(el.tag, str) and el.tag not in _NOT_TEXT:
            words += len(_WORDS.findall(el.text or ""))
        parent = el.getparent()
        if parent is None or parent.tag not in _NOT_TEXT:
            words += len(_WORDS.findall(el.tail or "")) if el is not body else 0
        if words >= _SHELL_WORDS:
            return False
    return True


_BODY = re.compile(r"<body[\s>]", re.IGNORECASE)
_SCAN_TAGS = 2_000  # tags the scan passes before it gives up (a page's first words: within ~150 tags)
_SKIPPED = {"<script": "</script", "<style": "</style", "<template": "</template", "<!--": "-->"}


def _words_shown(html: str) -> bool:
    """Whether the body surely shows _SHELL_WORDS words outside scripts, styles, templates and comments,
    told by a scan that stops there (most pages: within the first kilobytes) instead of a parse (~2 ms on
    an article). False means "not sure": the caller parses."""
    body = _BODY.search(html)
    if body is None:
        return False
    lowered = html.lower()
    at, words = lowered.find(">", body.start()) + 1, 0  # after the <body ...> tag
    if at == 0:
        return False
    for _ in range(_SCAN_TAGS):  # a body of endless empty tags: the parser decides, in its linear time
        if words >= _SHELL_WORDS:
            break
        tag = lowered.find("<", at)
        words += len(_WORDS.findall(htmllib.unescape(html[at : tag if tag >= 0 else len(html)])))
        if tag < 0:
            break
        opener = next((o for o in _SKIPPED if lowered.startswith(o, tag)), None)
        after = tag + len(opener or "")
        if opener is not None and (opener == "<!--" or not lowered[after : after + 1].isalnum()):
            tag = lowered.find(_SKIPPED[opener], after)  # its end: what is inside is not shown
            if tag < 0:
                return False  # unclosed: the parser decides
        close = lowered.find(">", tag)
        if close < 0:
            break
        at = close + 1
    return words >= _SHELL_WORDS
