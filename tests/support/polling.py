"""Waiting for a condition without fixed sleeps."""
import time


def wait_for(predicate, timeout=30.0, interval=0.05, message="condition"):
    """Poll ``predicate`` until it returns a true value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)
