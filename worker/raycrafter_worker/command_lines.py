"""Commands for the login node that name many files."""
import shlex

# The remote shell gets the whole command as one argument, and Linux refuses a single
# argument over 128 KiB (MAX_ARG_STRLEN): commands naming many files go in batches.
MAX_COMMAND_ARGUMENTS_BYTES = 64 * 1024


def argument_batches(paths, limit=MAX_COMMAND_ARGUMENTS_BYTES):
    """``paths`` in consecutive lists whose quoted command-line length stays under
    ``limit`` (a single longer path goes alone). A tuple among ``paths`` is several paths
    that stay in one list, in order."""
    batch, size = [], 0
    for item in paths:
        group = item if isinstance(item, tuple) else (item,)
        length = sum(len(shlex.quote(path).encode()) + 1 for path in group)
        if batch and size + length > limit:
            yield batch
            batch, size = [], 0
        batch.extend(group)
        size += length
    if batch:
        yield batch
