"""`python -m offline.demo`, as `make demo` runs it."""

import sys

from offline.demo.main import main

sys.exit(main())
