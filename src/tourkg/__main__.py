"""Allow ``python -m tourkg``."""

from tourkg.cli import main

if __name__ == "__main__":
    main()
