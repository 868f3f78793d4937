"""The signup benchmark: the app in production mode, driven by simulated browsers (see bench/run.py)."""
