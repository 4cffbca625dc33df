"""`python -m bot`: same as the `lipsync-bot` command."""

import sys

from bot.cli import main

sys.exit(main())
