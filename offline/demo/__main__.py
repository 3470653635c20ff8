"""`python -m offline.demo`, as `make demo` runs it."""

import sys

from offline.demo.environment import isolate

isolate()

# The imports below must see the environment set above.
from offline.demo.main import main  # noqa: E402

sys.exit(main())
