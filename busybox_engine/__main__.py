import sys

from busybox_engine.dispatch import main

sys.exit(main())
