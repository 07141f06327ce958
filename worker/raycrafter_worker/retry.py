"""Waiting between tries in the worker: the contract's backoff, and a sleep that ends as
soon as the worker is asked to stop."""
import time


def sleep_unless_stopped(seconds, stop_event):
    """Wait ``seconds``; return True at once if ``stop_event`` is set meanwhile."""
    if stop_event is None:
        time.sleep(seconds)
        return False
    return stop_event.wait(seconds)
