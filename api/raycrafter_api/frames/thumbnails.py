"""Small copies of frame images for the dashboard: made once per frame from its stored
image, kept beside it, one image in memory at a time."""
import os
import tempfile

from PIL import Image
from raycrafter_contract.naming import MAX_IMAGE_SIDE

from ..problems import NotFound
from . import frame_results

THUMBNAIL_SIDE = 320
# Frames are at most MAX_IMAGE_SIDE square, and they are ours (checksummed against what the
# node agent rendered): Pillow's bomb guard is set to that bound, not its general default.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_SIDE * MAX_IMAGE_SIDE


def thumbnail_path(config, job, number):
    """The thumbnail of a frame whose image is stored, made on first asking."""
    image = frame_results.image_path(config, job, number)
    path = os.path.splitext(image)[0] + ".thumbnail.png"
    if not os.path.exists(path):
        _write(_small_copy(image, number), path)
    return path


def _small_copy(image_path, number):
    try:
        with Image.open(image_path) as image:
            image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            return image.copy()
    # The image was checked to begin as a PNG, not to decode as one.
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise NotFound("thumbnail_not_available",
                       f"frame {number}'s image cannot be read as a picture: {error}",
                       {"frame": number}) from None


def _write(image, path):
    # Two viewers asking at once both write a whole file; the rename keeps one.
    handle = tempfile.NamedTemporaryFile(dir=os.path.dirname(path), prefix=".thumbnail-",
                                         suffix=".png", delete=False)
    try:
        with handle:
            image.save(handle, "PNG")
        os.replace(handle.name, path)
    except BaseException:
        os.unlink(handle.name)
        raise
