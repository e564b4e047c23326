"""`python -m bot` is `interview-bot`."""

import sys

from bot.cli import main

sys.exit(main())
