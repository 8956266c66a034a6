"""``python -m beton_runner.cli``: the same as ``beton``."""

from .app import main

if __name__ == "__main__":  # pragma: no cover
    main()
