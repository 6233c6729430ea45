"""Neutral helpers every layer may use: the standard library only, nothing
from the rest of busybox_engine, so importing one never drags a layer in."""
