"""The leaktrace dashboard: ``leaktrace dashboard``, or ``streamlit run app/main.py -- --db X``."""

from __future__ import annotations

# Streamlit runs this file as __main__ on every rerun. A worker process the library
# starts with "spawn" (a big file read on every core, many texts masked) imports its
# parent's __main__ file again, as __mp_main__: there the app must not run, or each
# worker would draw pages and wait on the store its parent holds.
if __name__ == "__main__":
    from shell import main

    main()
