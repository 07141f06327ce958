"""Jobs and their states: a request checked and turned into a job, the state machine
every change goes through, how a job is shown, and what the worker reports about it."""
