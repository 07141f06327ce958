"""``raycrafter``: the command line, its checks of local input, and the exit status."""
import argparse
import importlib.metadata
import json
import sys

from raycrafter_contract.frame_ranges import parse_frame_range
from raycrafter_contract.naming import DEFAULT_PAGE, DEFAULT_SCENE_FILE, MAX_IMAGE_SIDE, MAX_PAGE
from raycrafter_contract.states import JOB_STATES

from . import commands, exit_codes, http, settings as settings_module
from .errors import CliError


EPILOG = """\
settings: RAYCRAFTER_URL, RAYCRAFTER_TOKEN, RAYCRAFTER_CA (environment), else
~/.config/raycrafter/client.toml (url, token or token_file, ca_file).

exit status: 0 done (or the command succeeded), 2 usage or settings, 3 job failed,
4 job cancelled, 5 refused by the API, 6 token refused, 7 API unavailable,
130 interrupted."""


def _integer(low, high=None):
    """An argparse type: a whole number from ``low`` up to ``high``."""
    def parse(text):
        if not (text.isascii() and text.isdigit()) or int(text) < low:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least {low}")
        if high is not None and int(text) > high:
            raise argparse.ArgumentTypeError(f"{text} is more than {high}")
        return int(text)
    return parse


def _frames(text):
    """``7``, ``1-24`` or ``1-100:5``; the API checks the rest (how many frames)."""
    try:
        parse_frame_range(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None
    return text.strip()


def _span(text):
    """``FIRST-LAST`` frame numbers of an animation."""
    first, sep, last = text.strip().partition("-")
    if not (sep and first.isdigit() and last.isdigit()) or int(last) < int(first):
        raise argparse.ArgumentTypeError(f"{text!r}: use FIRST-LAST with FIRST <= LAST "
                                         f"(e.g. 1-30)")
    return int(first), int(last)


def _clock(text):
    """``INITIAL:FINAL`` clock values (numbers, e.g. 0:1 or -0.5:2.5)."""
    initial, sep, final = text.strip().partition(":")
    try:
        values = (float(initial), float(final))
    except ValueError:
        values = ()
    if not sep or len(values) != 2 or any(v != v or abs(v) == float("inf") for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: use INITIAL:FINAL (e.g. 0:1)")
    return values


def _option(text):
    """``KEY=VALUE``; VALUE is read as JSON when it is (true, 9, 0.3), else as text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: use KEY=VALUE (e.g. antialias=true)")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def _version():
    try:
        return importlib.metadata.version("raycrafter-cli")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        return "(not installed)"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="raycrafter", description="Render POV-Ray scenes on the cluster through the "
        "Raycrafter API.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true",
                        help="print the result as JSON on stdout (progress goes to stderr)")
    job_id = {"type": _integer(1), "metavar": "ID", "help": "the job's id"}
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, run, help_text):
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(run=run)
        return p

    p = command("submit", commands.submit, "submit a scene and print the new job's id")
    p.add_argument("scene", metavar="SCENE",
                   help="a .pov file, or a directory (or an archive of one: .tar, .tar.gz, "
                        ".tgz, .tar.bz2, .tar.xz, .zip) holding the scene and the files it "
                        "includes")
    p.add_argument("--scene-file", metavar="PATH",
                   help=f"the main scene file inside the directory or archive (default: "
                        f"{DEFAULT_SCENE_FILE}, else the only .pov file at its top)")
    p.add_argument("--frames", type=_frames,
                   help="the frames to render: N, FIRST-LAST or FIRST-LAST:STEP (default: "
                        "the INI file's subset, else the whole animation, else frame 1)")
    p.add_argument("--ini-file", metavar="PATH",
                   help="the POV-Ray INI file in the scene that gives the animation, size and "
                        "quality (default: the one naming the main file, else its namesake)")
    p.add_argument("--animation", type=_span, metavar="FIRST-LAST",
                   help="the animation's frames, as POV-Ray's Initial_Frame and Final_Frame "
                        "(default: the INI file's, else the frames rendered)")
    p.add_argument("--clock", type=_clock, metavar="INITIAL:FINAL",
                   help="the clock over the animation, as Initial_Clock and Final_Clock "
                        "(default: the INI file's, else 0:1)")
    p.add_argument("--cyclic", action=argparse.BooleanOptionalAction, default=None,
                   help="a cyclic animation, as Cyclic_Animation (default: the INI file's, "
                        "else not)")
    p.add_argument("--width", type=_integer(1, MAX_IMAGE_SIDE),
                   help="image width in pixels (default: the INI file's, else 640)")
    p.add_argument("--height", type=_integer(1, MAX_IMAGE_SIDE),
                   help="image height in pixels (default: the INI file's, else 480)")
    p.add_argument("--cluster", metavar="NAME", help="cluster profile (default: the API's)")
    p.add_argument("--name", metavar="N", help="job name (default: the scene's name)")
    p.add_argument("--option", type=_option, action="append", metavar="KEY=VALUE",
                   help="renderer option, repeatable: antialias=true, antialias_threshold=0.3, "
                        "antialias_depth=3, quality=9")
    p.add_argument("--notify-url", metavar="URL",
                   help="a webhook the API POSTs to when the job ends, signed with your "
                        "webhook secret (raycrafter webhook-secret)")
    p.add_argument("--notify-email", metavar="ADDRESS",
                   help="an e-mail address told when the job ends")
    p.add_argument("--wait", action="store_true", help="wait until the job is final")
    p.add_argument("--download", metavar="DIR",
                   help="wait, then download the frames into DIR (implies --wait)")

    p = command("jobs", commands.jobs, "list your jobs, newest first")
    p.add_argument("--state", choices=JOB_STATES, help="only jobs in this state")
    p.add_argument("--limit", type=_integer(1, MAX_PAGE), default=DEFAULT_PAGE,
                   help=f"how many jobs (default: {DEFAULT_PAGE}, at most {MAX_PAGE})")

    p = command("status", commands.status, "show a job")
    p.add_argument("job_id", **job_id)

    p = command("wait", commands.wait, "wait until a job is done, failed or cancelled")
    p.add_argument("job_id", **job_id)

    p = command("logs", commands.logs, "show a job's events and frame logs")
    p.add_argument("job_id", **job_id)
    p.add_argument("--frame", type=_integer(0), metavar="N", help="only the log of frame N")

    p = command("download", commands.download, "download a job's frames as PNG files")
    p.add_argument("job_id", **job_id)
    p.add_argument("directory", metavar="DIR", help="where to write frame_NNNNN.png files")

    p = command("cancel", commands.cancel, "cancel a job")
    p.add_argument("job_id", **job_id)

    p = command("webhook-secret", commands.webhook_secret,
                "show the secret your webhooks are signed with (Standard Webhooks)")
    p.add_argument("--rotate", action="store_true",
                   help="replace it first: the old secret no longer signs anything")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        settings = settings_module.load()
        warning = settings_module.cleartext_warning(settings)
        if warning:
            print(f"raycrafter: {warning}", file=sys.stderr)
        return args.run(args, http.Api(settings), settings)
    except CliError as error:
        print(f"raycrafter: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        print("raycrafter: interrupted", file=sys.stderr)
        return exit_codes.INTERRUPTED
