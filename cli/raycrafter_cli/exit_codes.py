"""Exit statuses of ``raycrafter``, so scripts can tell outcomes apart without parsing
text (the table is in docs/cli.md). 1 is left to Python: an uncaught exception, a bug."""

# The command did what was asked; for `wait` and `submit --wait`: the job is done.
OK = 0
# Bad command line (argparse), bad local input (scene, directory) or unusable settings.
USAGE = 2
JOB_FAILED = 3
JOB_CANCELLED = 4
# The API refused the request (4xx): unknown job, invalid field, illegal state change.
API_REFUSED = 5
# The API did not accept the token (401) or the token may not do this (403).
AUTH_FAILED = 6
# No proper answer from the API: connection, TLS, timeout, 5xx, a redirect, an answer
# that is not the API's, or a download that does not match its checksum.
API_UNAVAILABLE = 7
# Ctrl-C; the job itself goes on.
INTERRUPTED = 130
