"""Names and limits every component spells the same way."""
import re

# The main scene file when the user names none and the scene holds one by this name.
DEFAULT_SCENE_FILE = "scene.pov"
SCENE_SUFFIX = ".pov"
# Frame files are named with five digits, so frame numbers stop there.
MAX_FRAME_NUMBER = 99_999
# The largest image side the API accepts and the node agent renders.
MAX_IMAGE_SIDE = 16_384
# A node's name as it claims frames ("agent:NAME" must fit the API's 128-character actors).
MAX_HOLDER_CHARS = 120
# The most frames one claim may ask for: the frames one renderer process renders under
# one lease (the API sizes each chunk below this from the job's render times).
MAX_CLAIM_FRAMES = 1000
# A page of a listing: what the API gives when asked for no size, and the most it gives.
DEFAULT_PAGE = 50
MAX_PAGE = 500
# A failure's reason as the API keeps it for a frame and the worker sends it for a job:
# a longer one is cut to this many characters.
MAX_REASON_CHARS = 2_000
# A job's directory on the cluster's scratch (docs/protocol.md): the worker lays it out, the
# node agent renders in it.
JOB_INPUT_DIR = "input"  # the scene and its assets
JOB_FRAMES_DIR = "frames"  # frame_NNNNN.png
JOB_LOGS_DIR = "logs"
AGENT_TOKEN_FILE = "agent.token"  # mode 0600, never on a command line
LOG_CREDENTIAL_FILE = "log.credential"  # the same: what the agents sign log records with
# The cluster of a job left open: the site agents of several clusters take such jobs a few
# at a time (docs/protocol.md, "Site agent calls"), so no cluster profile may bear it.
OPEN_CLUSTER = "any"
# Every frame image is a PNG file, and every PNG file begins with these bytes.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def frame_file_name(number):
    """``frame_00007.png``: the name of frame ``number`` on the cluster, in the API's store
    and in what a user downloads, so frames sort in order everywhere."""
    number = int(number)
    if not 0 <= number <= MAX_FRAME_NUMBER:
        raise ValueError("frame numbers go from 0 to %d, not %d" % (MAX_FRAME_NUMBER, number))
    return "frame_%05d.png" % number


def batch_name(job_id, attempt):
    """``rc-12-a2``: the batch job of submission attempt ``attempt`` of job ``job_id``. The
    API hands it out with the attempt; the worker submits under it (behind its profile's
    prefix) and finds the batch job again by it before it ever submits twice."""
    return "rc-%d-a%d" % (int(job_id), int(attempt))


def batch_name_pattern(job_id, prefix=""):
    """The batch names of every attempt of job ``job_id`` (of every job when it is None)
    behind ``prefix``, as a compiled pattern whose group 1 is the attempt."""
    job = "[0-9]+" if job_id is None else "%d" % int(job_id)
    return re.compile("^" + re.escape(prefix) + "rc-" + job + "-a([0-9]+)$")
