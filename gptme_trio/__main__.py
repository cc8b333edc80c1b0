"""`python -m gptme_trio` and the `gptme-trio` command. The CLI is imported inside `main`: a Ctrl-C while
it loads (~0.3 s, seconds on a loaded machine) exits 130 without a traceback, as a Ctrl-C later does."""

import sys


def main() -> None:
    try:
        from gptme_trio.cli import main as cli
    except KeyboardInterrupt:
        sys.exit(130)
    cli()


if __name__ == "__main__":
    main()
