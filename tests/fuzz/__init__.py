"""The fuzz harness over every entry point (issue 16, item 9).

- ``build``: turns a case plan (JSON: which seed, which mutations) into files; no kgn_gui imports.
- ``plans``: hypothesis strategies (derandomized) that draw the plans, one strategy per entry point.
- ``driver``: runs a batch of cases in one process (memory limit, per-case time bound) and checks each.
- ``runner``: starts the drivers (one per core), restarts one that crashed or hung, collects the results.
"""
