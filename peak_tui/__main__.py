"""`python -m peak_tui` runs the CLI."""
from __future__ import annotations

import sys

from peak_tui.cli import main

sys.exit(main())
