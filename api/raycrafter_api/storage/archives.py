"""The scene rule (``raycrafter_contract.scenes``) applied to an upload, and its refusal
told as an Invalid problem that names the field and the member at fault. The worker unpacks with the
same rule and the same limits, so what is accepted here unpacks there."""
from raycrafter_contract import scenes

from ..problems import Invalid


def kind_of(filename):
    """The scene kind an upload's file name says, or Invalid naming the accepted endings."""
    try:
        return scenes.kind_of(filename)
    except scenes.SceneRejected as error:
        raise Invalid("invalid_field", f"scene: {error}", {"field": "scene"}) from None


def check(path, kind, limits, scene_file, upload_name):
    """The checked scene (its files and main file), or Invalid ``invalid_archive``."""
    try:
        return scenes.inspect(path, kind, limits, scene_file or None, upload_name)
    except scenes.SceneRejected as error:
        raise Invalid("invalid_archive", str(error),
                      {"field": error.field, "member": error.member}) from None
