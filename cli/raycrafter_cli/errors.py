"""One exception for every failure the user can act on."""


class CliError(Exception):
    """Its message is printed to stderr and ``status`` becomes the exit code.
    ``transient``: asking again later may succeed (the API or the network is down), after
    ``retry_after`` seconds if the API asked for a wait."""

    transient = False
    retry_after = None

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status
