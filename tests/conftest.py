import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if TOP not in sys.path:
    sys.path.insert(0, TOP)

from tests.engine import engine, installed  # noqa: E402,F401 - fixtures
