"""``python -m monitor.cli.run``: the CLI without the console script (used by tests and subprocesses)."""

from monitor.cli import main

if __name__ == "__main__":
    main()
