"""`python -m bench`: run the signup benchmark (see bench/run.py)."""

from bench.run import main

raise SystemExit(main())
