"""The national-scale benchmark behind ``make bench`` (issue 8).

``python -m bench`` generates national data once into ``bench/data/`` (reused while the
generator and seed are unchanged), then measures, as medians of several runs:

1. the floor: ``pyarrow.parquet.read_table`` of just the columns the KPIs need;
2. load and validate (``metrics.load.load_dataset``);
3. all KPIs, all forces, one 12-month window;
4. all KPIs, all forces, by month for 36 months (with SPC);
5. peak RSS of a fresh process per size;
6. the flight deck page through ``AppTest``, cold then warm;
7. steps 2-4 at smaller sizes, with the growth ratio;
8. concurrent sessions against one server (``python -m ui.serve run``, as ``make run``),
   over Streamlit's websocket protocol.

It prints a table with each figure, its goal and pass/fail, and writes ``bench/results.md``.
Modules: ``report`` (pure: medians, ratios, goals, the table), ``datasets`` (generation and
manifest), ``core`` (steps 1-5, run as a subprocess), ``apptest`` (step 6, a subprocess),
``concurrency`` (step 8), ``profiling`` (pyinstrument), ``machine``, ``cli``.
"""
