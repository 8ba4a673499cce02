"""``python -m hull.registry``."""

import sys

from hull.registry.main import main

sys.exit(main())
