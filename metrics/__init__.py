"""The flight deck's pure core: loading, validation, KPIs, statistics, disclosure control.

Nothing in this package imports Streamlit, so the app, the CLI (`python -m metrics`),
the tests and the benchmarks all run the same code.
"""
