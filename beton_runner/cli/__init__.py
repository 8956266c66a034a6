"""`beton`: the command line.

- ``shell``: the group and command classes whose invocation turns every ``BetonError`` into
  one clean message and an exit code (a traceback only with ``--debug``);
- ``options``: the options commands share (``--target``/``--duckdb``, ``--as-of``, ``--vars``,
  ``--out``), defined once;
- ``console``: the one way to print, escaping every piece of data or rule text;
- ``progress``: progress bars;
- one module per command family (``rules``, ``build``, ``punch_list``, ``generate``,
  ``posthog``, ``enrich``, ``plays``, ``report``, ``export``), registered in ``app``.

Library modules (everything outside this package) import neither click nor rich.
"""

from .app import cli, main

__all__ = ["cli", "main"]
