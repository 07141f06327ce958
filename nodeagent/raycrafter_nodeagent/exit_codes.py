"""Exit statuses of the agent, for the batch script and for people reading job logs.

They follow sysexits.h where one fits, so a batch script can tell "try again later"
(75) from "fix the setup" (2, 3) without parsing logs.
"""

# The job has no frame left for this agent (finished, failed or cancelled), or --once /
# --dry-run did its one frame.
DONE = 0
# A bug: an exception the agent did not expect; the traceback is in the log.
INTERNAL_ERROR = 1
# The command line or environment is unusable (argparse's convention).
CONFIG_ERROR = 2
# The API refused the agent for good: unknown token, wrong job, invalid request (4xx).
API_REFUSED = 3
# The API stayed unreachable longer than --max-api-outage while the agent had no frame.
API_UNREACHABLE = 4
# Stopped by SIGTERM (walltime) or SIGINT: the renderer was stopped and the frame handed
# back to the API, so the job may simply be resubmitted (EX_TEMPFAIL).
STOPPED = 75
