"""Validating a job request: the form fields, and where they are silent, what the scene's
own POV-Ray INI file says (its animation, the frames to render, the image size and the
allowed quality settings). Everything else in the INI file is ignored and listed in the
job's first event, so the user sees what the appliance decided instead.
"""
import json
import posixpath

from raycrafter_contract.animation import (Animation, IniRejected, check_povray_option,
                                           parse_ini)
from raycrafter_contract.frame_ranges import FrameRange, parse_frame_range
from raycrafter_contract.naming import MAX_FRAME_NUMBER, MAX_IMAGE_SIDE
from raycrafter_contract.scenes import INI_SUFFIX, MAX_INI_BYTES
from raycrafter_contract.wire import json_text

from ..notify import mail, webhook_targets
from ..problems import bad_field

RENDERERS = ("povray",)
# Each renderer's check of one option (an allow-list with bounds).
RENDERER_OPTIONS = {"povray": check_povray_option}
DEFAULT_SIZE = {"width": 640, "height": 480}
NAME_MAX = 200
_ANIMATION_FIELDS = ("initial_frame", "final_frame", "initial_clock", "final_clock", "cyclic")
_BOOLEANS = {"true": True, "on": True, "yes": True, "1": True,
             "false": False, "off": False, "no": False, "0": False}


def validate(fields, scene, config):
    """The Job column values for a request: ``fields`` (form text) and ``scene`` (the
    contract's checked Scene). ``values["notes"]`` says what came from the INI file and
    what in it was ignored."""
    name = (fields.get("name") or "").strip()
    if not name:
        raise bad_field("name", "is required")
    if len(name) > NAME_MAX or not name.isprintable():
        raise bad_field("name", f"must be printable text of at most {NAME_MAX} characters")
    renderer = fields.get("renderer") or RENDERERS[0]
    if renderer not in RENDERERS:
        raise bad_field("renderer", f"unknown renderer (allowed: {', '.join(RENDERERS)})")
    cluster = fields.get("cluster") or config.default_cluster
    if cluster not in config.job_clusters:
        raise bad_field("cluster", f"unknown cluster (allowed: "
                                   f"{', '.join(config.job_clusters)})")
    ini_name, ini = _ini_of(fields.get("ini_file"), scene)
    requested = parse_frames(fields.get("frames"), config.max_frames_per_job) \
        if fields.get("frames") else None
    animation = _animation(fields, ini, requested)
    if requested is None and animation.initial_frame == animation.final_frame:
        requested = (animation.initial_frame,) * 2 + (1,)
    first, last, step = requested or _default_frames(ini, animation, config.max_frames_per_job)
    if not animation.initial_frame <= first <= last <= animation.final_frame:
        raise bad_field("frames", f"frames {first}-{last} are outside the animation's "
                                  f"frames {animation.initial_frame}-{animation.final_frame}")
    options = {**(ini.options if ini else {}), **parse_options(renderer, fields.get("options"))}
    return {
        "name": name,
        "frame_first": first, "frame_last": last, "frame_step": step,
        "anim_initial_frame": animation.initial_frame,
        "anim_final_frame": animation.final_frame,
        "anim_initial_clock": animation.initial_clock,
        "anim_final_clock": animation.final_clock,
        "anim_cyclic": animation.cyclic,
        "width": _size("width", fields, ini), "height": _size("height", fields, ini),
        "renderer": renderer,
        "options": json.dumps(options, sort_keys=True),
        "cluster": cluster,
        "scene_file": scene.main_file,
        "notify_url": _notify_url(fields.get("notify_url"), config),
        "notify_email": _notify_email(fields.get("notify_email")),
        "notes": _notes(ini_name, ini, scene.main_file),
    }


def _notify_url(text, config):
    """The webhook told when the job ends, or None. Its name is resolved and checked at
    each delivery; an address in the URL is checked now."""
    url = (text or "").strip()
    if not url:
        return None
    try:
        webhook_targets.check_url(url, config.notify_allowed_networks)
    except webhook_targets.Refused as error:
        raise bad_field("notify_url", str(error)) from None
    return url


def _notify_email(text):
    address = (text or "").strip()
    if not address:
        return None
    problem = mail.check_address(address)
    if problem:
        raise bad_field("notify_email", problem)
    return address


def parse_frames(text, max_frames):
    """Parse ``7``, ``1-24`` or ``1-100:5`` into (first, last, step)."""
    try:
        frames = parse_frame_range(text)
    except ValueError as error:
        raise bad_field("frames", str(error)) from None
    return _counted(frames, max_frames)


def _counted(frames, max_frames):
    if frames.count > max_frames:
        raise bad_field("frames", f"{frames.count} frames requested, at most {max_frames} "
                                  f"allowed")
    return tuple(frames)


def parse_options(renderer, text):
    """Parse the JSON ``options`` field against the renderer's allow-list."""
    if text is None or not str(text).strip():
        return {}
    try:
        options = json_text.loads(text)
    except json_text.NonFiniteNumber as error:
        raise bad_field(f"options.{error.field}", error.problem) from None
    except ValueError:
        raise bad_field("options", "must be a JSON object") from None
    if not isinstance(options, dict):
        raise bad_field("options", "must be a JSON object")
    for key, value in options.items():
        try:
            RENDERER_OPTIONS[renderer](key, value)
        except ValueError as error:
            raise bad_field(f"options.{key}", str(error)) from None
    return options


def _ini_of(requested, scene):
    """(name, IniSettings) of the INI file the job follows, or ("", None): the one the
    user named, else the one whose Input_File_Name is the main file, else the main file's
    namesake (scene.pov -> scene.ini)."""
    if requested:
        if requested not in scene.ini_files:
            raise bad_field("ini_file", f"the scene holds no INI file {requested} of at most "
                                        f"{MAX_INI_BYTES} bytes")
        return requested, _parsed(requested, scene.ini_files[requested])
    parsed = {}
    for name, text in sorted(scene.ini_files.items()):
        try:
            parsed[name] = parse_ini(text)
        except IniRejected:
            continue  # not chosen: an INI file nobody asked for may hold anything
    for name, settings in parsed.items():
        target = posixpath.normpath(posixpath.join(posixpath.dirname(name),
                                                   settings.main_file))
        if settings.main_file and target == scene.main_file:
            return name, settings
    namesake = posixpath.splitext(scene.main_file)[0] + INI_SUFFIX
    if namesake in scene.ini_files:
        return namesake, _parsed(namesake, scene.ini_files[namesake])
    return "", None


def _parsed(name, text):
    try:
        return parse_ini(text)
    except IniRejected as error:
        raise bad_field("ini_file", f"{name}: {error}") from None


def _animation(fields, ini, requested):
    """The job's animation: the fields, else the INI file, each key falling back to
    POV-Ray's default; with neither, the frames asked for are the whole animation, and
    without frames either, one still image (frame 1), as POV-Ray renders a scene alone."""
    given = {key: value for key, value in (ini.animation if ini else {}).items()}
    for field in _ANIMATION_FIELDS:
        text = fields.get(field)
        if text is not None and str(text).strip():
            given[field] = _field_value(field, str(text).strip())
    if not given:
        first, last = requested[:2] if requested else (1, 1)
        given = {"initial_frame": first, "final_frame": last}
    try:
        return Animation(**given).check()
    except ValueError as error:
        raise bad_field("final_frame" if "frame" in str(error) else "final_clock",
                        str(error)) from None


def _field_value(field, text):
    try:
        if field == "cyclic":
            return _BOOLEANS[text.lower()]
        if field.endswith("_frame"):
            value = int(text)
            if not 0 <= value <= MAX_FRAME_NUMBER:
                raise ValueError
            return value
        value = float(text)
        if value != value or abs(value) == float("inf"):
            raise ValueError
        return value
    except (KeyError, ValueError):
        kind = ("true or false" if field == "cyclic" else
                f"a frame number from 0 to {MAX_FRAME_NUMBER}" if field.endswith("_frame")
                else "a finite number")
        raise bad_field(field, f"must be {kind}") from None


def _default_frames(ini, animation, max_frames):
    first, last = (ini.subset if ini and ini.subset
                   else (animation.initial_frame, animation.final_frame))
    return _counted(FrameRange(first, last, 1), max_frames)


def _size(field, fields, ini):
    text = fields.get(field)
    if text is None or not str(text).strip():
        value = (ini.size if ini else {}).get(field, DEFAULT_SIZE[field])
    else:
        try:
            value = int(str(text).strip())
        except ValueError:
            raise bad_field(field, "must be an integer") from None
    if not 1 <= value <= MAX_IMAGE_SIDE:
        raise bad_field(field, f"must be between 1 and {MAX_IMAGE_SIDE}")
    return value


def _notes(ini_name, ini, main_file):
    """What the job's first event says about the INI file."""
    if not ini:
        return ""
    notes = [f"settings from {ini_name}"]
    if ini.main_file and posixpath.normpath(posixpath.join(
            posixpath.dirname(ini_name), ini.main_file)) != main_file:
        notes.append(f"its Input_File_Name={ini.main_file} is not used: the main file is "
                     f"{main_file}")
    if ini.ignored:
        notes.append("ignored: " + "; ".join(f"{key} ({why})" for key, why in ini.ignored))
    return ", ".join(notes)
