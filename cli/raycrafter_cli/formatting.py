"""How jobs, events and logs look on a terminal (``--json`` prints the API's objects)."""
import datetime
import json

from raycrafter_contract.wire.records import json_default

NAME_WIDTH = 32


def as_json(value):
    """``value`` as JSON: the API's objects (its wire records among them) as it sent them."""
    return json.dumps(value, indent=2, sort_keys=True, default=json_default)


def local_time(iso):
    """An API time (``2026-11-22T10:00:00Z``) in the local time zone, to the second."""
    if not iso:
        return "-"
    moment = datetime.datetime.fromisoformat(iso).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def frame_range(frames):
    first, last, step = frames.first, frames.last, frames.step
    if first == last:
        return str(first)
    return f"{first}-{last}" + (f":{step}" if step != 1 else "")


def _shorten(text, width):
    return text if len(text) <= width else text[:width - 3].rstrip() + "..."


def job_table(jobs):
    rows = [("ID", "NAME", "STATE", "FRAMES", "CREATED")]
    rows += [(str(j.id), _shorten(j.name, NAME_WIDTH), j.state,
              f"{j.progress['done']}/{j.frames.count}", local_time(j.created_at))
             for j in jobs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in rows)


def job_details(job):
    progress = ", ".join(f"{n} {state}" for state, n in job.progress.items())
    options = f" {json.dumps(job.options, sort_keys=True)}" if job.options else ""
    scene = job.scene
    lines = [("job", f"{job.id} {job.name}"), ("owner", job.owner),
             ("state", job.state)]
    if job.error:
        lines.append(("error", job.error))
    lines += [("frames", f"{frame_range(job.frames)} ({job.frames.count} frames: "
                         f"{progress})"),
              ("size", f"{job.width}x{job.height}"),
              ("renderer", job.renderer + options),
              ("cluster", job.cluster),
              ("scene", f"{scene.kind}, {scene.size} bytes, sha256 {scene.checksum}"),
              ("created", local_time(job.created_at)),
              ("updated", local_time(job.updated_at))]
    return "\n".join(f"{key:<9} {value}" for key, value in lines)


def event_line(event):
    subject = "job" if event["frame"] is None else f"frame {event['frame']}"
    change = f"{event['from'] or '-'} -> {event['to']}"
    reason = f"  {event['reason']}" if event["reason"] else ""
    return f"{local_time(event['at'])}  {subject:<11} {change:<24} {event['actor']}{reason}"


def frame_log(frame, log):
    """A frame's log under a heading naming its state and last error."""
    heading = f"== frame {frame['number']}: {frame['state']}, {frame['attempts']} failed " \
              f"attempt(s)" + (f", last error: {frame['error']}" if frame["error"] else "")
    return f"{heading}\n{log.rstrip()}" if log.strip() else f"{heading}\n(no log)"
