"""Run rs-trafilatura over pages, in its own Python 3.12 venv (bench only; see bench/extraction_wcxb.py).

    .venv-rs312/bin/python bench/rs_trafilatura_run.py DIR   # DIR: ID.html files, urls.json; JSON lines out

Standalone: imports only rs_trafilatura and the standard library. One line per page:
{"id", "text", "ms", "page_type"}, after one warm-up pass over the first page.
"""

import json
import sys
import time
from pathlib import Path

import rs_trafilatura  # type: ignore[import-not-found]  # only in .venv-rs312


def main() -> None:
    folder = Path(sys.argv[1])
    urls = json.loads((folder / "urls.json").read_text(encoding="utf-8"))  # {id: the page's address}
    files = sorted(folder.glob("*.html"))
    if files:
        rs_trafilatura.extract(files[0].read_text(encoding="utf-8", errors="replace"))
    for path in files:
        html = path.read_text(encoding="utf-8", errors="replace")
        started = time.perf_counter()
        result = rs_trafilatura.extract(html, url=urls.get(path.stem))
        ms = (time.perf_counter() - started) * 1000
        line = {"id": path.stem, "text": result.main_content or "", "ms": ms, "page_type": result.page_type}
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
