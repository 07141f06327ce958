"""What the Raycrafter components must agree on, defined once.

The API, the worker, the node agent and the user CLI are separate distributions installed
on different hosts; this package is installed next to each of them so that a rule they
share (what a scene archive may hold, how a frame file is named, the largest image, the
job states, the broker's names, the body of every HTTP call in ``wire``) lives in exactly
one place. General tools they share that are no rule (backoff, TLS to the broker, Consul
lookups, the HTTP helper) are apart, in ``utilities``.
"""
__version__ = "0.1.0"
