"""The appliance's log server: GELF records from the node agents, each admitted by the log
credential of its batch job (``raycrafter_contract.log_credentials``), written one JSON
object per line (docs/operations.md, "The log server")."""

__version__ = "0.1.0"
