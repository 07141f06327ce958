"""Names and limits every component spells the same way."""

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


def frame_file_name(number):
    """``frame_00007.png``: the name of frame ``number`` on the cluster, in the API's store
    and in what a user downloads, so frames sort in order everywhere."""
    number = int(number)
    if not 0 <= number <= MAX_FRAME_NUMBER:
        raise ValueError("frame numbers go from 0 to %d, not %d" % (MAX_FRAME_NUMBER, number))
    return "frame_%05d.png" % number
