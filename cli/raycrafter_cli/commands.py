"""The commands of ``raycrafter``: each takes the parsed arguments, the API and the
settings, prints its result (``--json``: one JSON document on stdout) and returns the
exit status."""
import json
import sys

from raycrafter_contract.naming import MAX_PAGE

from . import downloading, exit_codes, formatting, progress, scene_packing, waiting

# Without --frame, `logs` fetches at most this many logs of frames that rendered fine
# (the API answers one log per request); those of failed frames always come.
RENDERED_LOGS_SHOWN = 20


def _out(text):
    print(text, flush=True)


def _note(text):
    print(text, file=sys.stderr, flush=True)


def submit(args, api, settings):
    if args.download:
        downloading.prepare_directory(args.download)
    fields = {"name": args.name or scene_packing.default_job_name(args.scene)[:200]}
    for field, value in (("frames", args.frames), ("ini_file", args.ini_file),
                         ("width", args.width), ("height", args.height),
                         ("notify_url", args.notify_url), ("notify_email", args.notify_email)):
        if value is not None:
            fields[field] = str(value)
    if args.animation:
        fields["initial_frame"], fields["final_frame"] = map(str, args.animation)
    if args.clock:
        fields["initial_clock"], fields["final_clock"] = map(repr, args.clock)
    if args.cyclic is not None:
        fields["cyclic"] = "true" if args.cyclic else "false"
    if args.cluster:
        fields["cluster"] = args.cluster
    if args.option:
        fields["options"] = json.dumps(dict(args.option))
    with scene_packing.packed(args.scene, args.scene_file) as scene:
        if scene.main_file:
            fields["scene_file"] = scene.main_file
        job = api.create_job(fields, scene)
    if not args.json:
        _out(str(job.id))
        _note(f"submitted job {job.id} ({job.name}): {job.frames.count} frame(s) "
              f"at {job.width}x{job.height} on cluster {job.cluster}, "
              f"scene of {scene.files} file(s), {scene.size} bytes")
    if not (args.wait or args.download):
        if args.json:
            _out(formatting.as_json(job))
        return exit_codes.OK
    job = _wait(args, api, settings, job.id)
    status = waiting.outcome(job)
    shown = job.to_json()
    if status == exit_codes.OK and args.download:
        shown["download"] = _download(args, api, job.id, args.download)
    if args.json:
        _out(formatting.as_json(shown))
    return status


def jobs(args, api, settings):
    page = api.jobs(state=args.state, limit=args.limit)
    if args.json:
        _out(formatting.as_json(page))
    elif page.jobs:
        _out(formatting.job_table(page.jobs))
    else:
        _note("no jobs" + (f" in state {args.state}" if args.state else ""))
    if not args.json and page.total > len(page.jobs):
        _note(f"showing {len(page.jobs)} of {page.total} jobs (--limit up to {MAX_PAGE})")
    return exit_codes.OK


def status(args, api, settings):
    job = api.job(args.job_id)
    _out(formatting.as_json(job) if args.json else formatting.job_details(job))
    return exit_codes.OK


def wait(args, api, settings):
    job = _wait(args, api, settings, args.job_id)
    if args.json:
        _out(formatting.as_json(job))
    return waiting.outcome(job)


def logs(args, api, settings):
    if args.frame is not None:
        log = api.frame_log(args.job_id, args.frame)
        if args.json:
            _out(formatting.as_json({"job": args.job_id, "frame": args.frame, "log": log}))
        elif log:
            sys.stdout.write(log if log.endswith("\n") else log + "\n")
        else:
            _note(f"frame {args.frame} has no log yet")
        return exit_codes.OK
    events = api.events(args.job_id)
    frames = api.frames(args.job_id)
    troubled = [f for f in frames if f["state"] == "failed" or f["error"]]
    rendered = [f for f in frames if f["state"] == "done" and not f["error"]]
    shown = rendered[:RENDERED_LOGS_SHOWN]
    logged = [(f, api.frame_log(args.job_id, f["number"])) for f in troubled + shown]
    logged = [(f, log) for f, log in logged if log.strip() or f in troubled]
    omitted = len(rendered) - len(shown)
    if args.json:
        _out(formatting.as_json({
            "events": events, "omitted_frame_logs": omitted,
            "frame_logs": [{"frame": f["number"], "state": f["state"], "error": f["error"],
                            "attempts": f["attempts"], "log": log} for f, log in logged]}))
        return exit_codes.OK
    _out("\n".join(formatting.event_line(e) for e in events))
    for frame, log in logged:
        _out("\n" + formatting.frame_log(frame, log))
    if omitted:
        _note(f"{omitted} more rendered frame(s) have a log: "
              f"raycrafter logs {args.job_id} --frame N")
    return exit_codes.OK


def download(args, api, settings):
    result = _download(args, api, args.job_id, args.directory)
    if args.json:
        _out(formatting.as_json(result))
    return exit_codes.OK


def cancel(args, api, settings):
    job = api.cancel(args.job_id)
    _out(formatting.as_json(job) if args.json else f"job {job.id} cancelled")
    return exit_codes.OK


def webhook_secret(args, api, settings):
    secret = api.webhook_secret(rotate=args.rotate)
    _out(formatting.as_json({"secret": secret}) if args.json else secret)
    if args.rotate and not args.json:
        _note("rotated: webhooks are signed with this secret from now on")
    return exit_codes.OK


def _wait(args, api, settings, job_id):
    """Wait for the job; progress goes to stdout, or to stderr when stdout is JSON."""
    stream = sys.stderr if args.json else sys.stdout
    return waiting.wait(api, job_id, progress.for_stream(stream), settings.poll_seconds)


def _download(args, api, job_id, directory):
    fetched = downloading.download(api, job_id, directory)
    missing = fetched.frames_total - len(fetched.files)
    if not args.json:
        _out(f"downloaded {len(fetched.files)} frame(s) to {fetched.directory}")
    if missing:
        _note(f"{missing} of {fetched.frames_total} frames have no image yet")
    return {"directory": fetched.directory, "files": fetched.files, "count": len(fetched.files),
            "frames_total": fetched.frames_total}
