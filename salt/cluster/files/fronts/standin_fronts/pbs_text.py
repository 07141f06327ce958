"""`qstat -f` text as PBS Professional and Torque print it.

Both print `Job Id: ID`, then one `    name = value` line per attribute, then a blank line.
A long value is cut at commas where a piece still fits the line, and otherwise character
by character, onto continuation lines that start with a TAB (`prt_attr()` in qstat.c of
both); empty pieces between commas vanish, as strtok() drops them. The line limit is the
only difference: 78 in OpenPBS (CHAR_LINE_LIMIT), 77 in Torque (linesize).
"""
import time


def full_listing(jobs, line_limit):
    """`jobs` is a list of (job id, [(attribute, value), ...])."""
    return "".join(
        f"Job Id: {job_id}\n"
        + "".join(wrapped(name, value, line_limit) + "\n" for name, value in attributes)
        + "\n"
        for job_id, attributes in jobs)


def one_line_listing(jobs):
    """Torque's `qstat -f -1`: the same listing without continuation lines."""
    return "".join(
        f"Job Id: {job_id}\n"
        + "".join(f"    {name} = {value}\n" for name, value in attributes) + "\n"
        for job_id, attributes in jobs)


def wrapped(name, value, line_limit):
    text = f"    {name} = "
    column = len(name) + 7
    pieces = [piece for piece in value.split(",") if piece]
    for index, piece in enumerate(pieces):
        if len(piece) + column < line_limit:
            text += piece
            column += len(piece)
        else:
            if index > 0:
                text += "\n\t"
                column = 9
            for character in piece:
                text += character
                column += 1
                if column > line_limit:
                    text += "\n\t"
                    column = 8
        if index + 1 < len(pieces):
            text += ","
    return text


def timestamp(epoch):
    """ctime() without its newline: `Thu Jun 19 21:27:51 2025`, local time."""
    return time.ctime(epoch)


def duration(seconds):
    """HH:MM:SS, hours unbounded (`120:00:31`)."""
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
