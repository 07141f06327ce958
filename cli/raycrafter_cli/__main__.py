"""``python -m raycrafter_cli``: the same as the ``raycrafter`` console script."""
import sys

from .main import main

sys.exit(main())
