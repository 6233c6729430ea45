# Overwritten by build.py with the build's identity; "dev" when run from source.
BUILD_ID = "dev"
BUILD_TIME = ""
