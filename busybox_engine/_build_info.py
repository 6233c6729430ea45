# Written by build.py for this build.
BUILD_ID = '00471964337a'
BUILD_TIME = 'Tue Dec 01 00:26:33 2026'
