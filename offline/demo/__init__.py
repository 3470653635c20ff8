"""`make demo`: the whole pipeline offline, event-driven; `python -m offline.demo` runs it (see `main`)."""
