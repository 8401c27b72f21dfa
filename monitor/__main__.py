"""``python -m monitor``: the CLI without the console script (the retrain job trains this way)."""

from monitor.cli import main

if __name__ == "__main__":
    main()
