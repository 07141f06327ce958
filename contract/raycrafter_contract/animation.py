"""Animations as POV-Ray defines them, and what a scene's own INI file may say about them.

A job's animation is POV-Ray's: frames ``initial_frame`` to ``final_frame``, the clock going
from ``initial_clock`` to ``final_clock``, cyclic or not. Which of its frames are rendered
is a separate choice. The renderer hands POV-Ray the whole animation and the subset
(``+KFI +KFF +KI +KF ±KC +SF +EF``), so POV-Ray computes each frame's clock itself, in
its own single precision, exactly as when it renders the animation by hand.

A scene's INI file supplies the animation, the subset, the image size and the quality
settings; everything else in it (shell-outs, paths, output and I/O settings, display) is
ignored and said so, because the appliance decides those.
"""
import dataclasses
import re

from .wire.records import Record

# The POV-Ray options a user may set (a job's ``options``, or the INI key of the same
# name): name -> (type, minimum, maximum).
POVRAY_OPTIONS = {
    "antialias": (bool, None, None),
    "antialias_threshold": (float, 0.0, 3.0),
    "antialias_depth": (int, 1, 9),
    "quality": (int, 0, 11),
    # Declare=NAME=VALUE: identifiers the scene reads, numbers only (POV-Ray 3.7).
    "declare": (dict, None, None),
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
MAX_DECLARES = 32


def check_povray_option(name, value):
    """``value`` if the POV-Ray option ``name`` may take it, else ValueError saying why
    (JSON numbers: a bool is not a number, an int is a float)."""
    if name not in POVRAY_OPTIONS:
        raise ValueError("unknown option for povray (allowed: %s)"
                         % ", ".join(sorted(POVRAY_OPTIONS)))
    kind, low, high = POVRAY_OPTIONS[name]
    if kind is dict:
        if not isinstance(value, dict) or len(value) > MAX_DECLARES:
            raise ValueError("must be an object of at most %d NAME: number pairs"
                             % MAX_DECLARES)
        for identifier, number in value.items():
            if not _IDENTIFIER.match(identifier):
                raise ValueError("%r is not a POV-Ray identifier" % (identifier,))
            if isinstance(number, bool) or not isinstance(number, (int, float)) or (
                    number != number or abs(number) == float("inf")):
                raise ValueError("%s must be a finite number" % identifier)
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            kind is int and not isinstance(value, int)):
        raise ValueError("must be %s" % ("an integer" if kind is int else "a number"))
    if not low <= value <= high:
        raise ValueError("must be between %s and %s" % (low, high))
    return value


_ANIMATION_KEYS = {
    "initial_frame": int, "final_frame": int, "initial_clock": float, "final_clock": float,
    "cyclic_animation": bool, "subset_start_frame": int, "subset_end_frame": int,
    "width": int, "height": int, "input_file_name": str,
}
_IGNORED_BECAUSE = (
    (re.compile(r"_command$"), "a shell-out: the appliance never runs one"),
    (re.compile(r"^(output_|library_path$|include_ini$|create_ini$|.*_file$|.*_file_name$|"
                r"continue_trace$|histogram)"), "a path or an output setting: the appliance "
                                                "chooses where POV-Ray reads and writes"),
)
# Switches the appliance reads from an INI file, longest first so +KFI is not +KF.
_SWITCH = re.compile(r"^([+-])(KFI|KFF|KF|KI|KC|SF|EF|W|H|A|R|Q)(.*)$", re.IGNORECASE)
_SWITCH_KEYS = {"KFI": "initial_frame", "KFF": "final_frame", "KF": "final_clock",
                "KI": "initial_clock", "KC": "cyclic_animation", "SF": "subset_start_frame",
                "EF": "subset_end_frame", "W": "width", "H": "height", "A": "antialias",
                "R": "antialias_depth", "Q": "quality"}
_TRUE = {"on", "true", "yes", "1"}
_FALSE = {"off", "false", "no", "0"}


class IniRejected(ValueError):
    """The INI file cannot be read; ``str()`` names the line."""


@dataclasses.dataclass(frozen=True)
class Animation(Record):
    """A job's animation; its JSON form is the ``animation`` of a job as the API shows it."""

    initial_frame: int = 1
    final_frame: int = 1
    initial_clock: float = 0.0
    final_clock: float = 1.0
    cyclic: bool = False

    def check(self):
        """The animation, or ValueError naming what is wrong with it."""
        if self.final_frame < self.initial_frame:
            raise ValueError("the final frame comes before the initial frame")
        if self.initial_frame < 0:
            raise ValueError("frame numbers start at 0")
        for name in ("initial_clock", "final_clock"):
            value = getattr(self, name)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError("%s must be a finite number" % name)
        return self

    def povray_switches(self, first, last):
        """POV-Ray's switches to render frames ``first`` to ``last`` of this animation.

        One frame (initial == final) is no animation to POV-Ray: it gets ``+K`` with the
        initial clock. POV-Ray itself would compute 0/0 there and give the scene a clock of
        NaN when the two clocks differ, which no scene can use.
        """
        if not self.initial_frame <= first <= last <= self.final_frame:
            raise ValueError("frames %d-%d are outside the animation's %d-%d"
                             % (first, last, self.initial_frame, self.final_frame))
        if self.initial_frame == self.final_frame:
            return ["+K" + _number(self.initial_clock)]
        return ["+KFI%d" % self.initial_frame, "+KFF%d" % self.final_frame,
                "+KI" + _number(self.initial_clock), "+KF" + _number(self.final_clock),
                "+KC" if self.cyclic else "-KC", "+SF%d" % first, "+EF%d" % last]


@dataclasses.dataclass(frozen=True)
class IniSettings:
    """What a scene's INI file says that the appliance uses, and what it ignored."""

    animation: dict  # Animation field -> value, only the ones the file sets
    subset: tuple  # (first, last) frames to render by default, or ()
    size: dict  # "width"/"height" -> pixels, only the ones the file sets
    options: dict  # POV-Ray option -> value (POVRAY_OPTIONS)
    main_file: str  # Input_File_Name, or ""
    ignored: tuple  # (key, why) in file order


def parse_ini(text):
    """Read POV-Ray INI text: ``Key=Value`` lines, lines of switches and ``Key=Value``
    tokens (``+kf0.1666 +kff20 +kc declare=fp=0``), ``;`` comments, ``[Section]``s."""
    found, declares, ignored = {}, {}, []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            ignored.append((line, "sections are not read: put the settings before the "
                                  "first section"))
            break
        tokens = line.split() if line[0] in "+-" else [line]
        for token in tokens:
            if token[0] in "+-":
                key, value = _switch(token)
            elif "=" in token:
                key, value = (part.strip() for part in token.split("=", 1))
            else:
                key, value = token, None
            lowered = key.lower()
            if lowered == "declare" and value is not None and "=" in value:
                name, _, declared = value.partition("=")
                declares[name.strip()] = _value(float, declared.strip(), key, number)
                continue
            kind = _ANIMATION_KEYS.get(lowered) or (
                POVRAY_OPTIONS[lowered][0] if lowered in POVRAY_OPTIONS else None)
            if kind is None or value is None:
                ignored.append((key, "a switch the appliance does not read: it sets output, "
                                     "paths and display itself" if key[0] in "+-"
                                else _why_ignored(lowered)))
                continue
            found[lowered] = _value(kind, value.strip('"'), key, number)
    return _settings(found, declares, tuple(ignored))


def _switch(token):
    """(INI key, value text) of one command-line switch, or (token, None) for one the
    appliance does not read."""
    match = _SWITCH.match(token)
    if not match:
        return token, None
    sign, letters, rest = match.group(1), match.group(2).upper(), match.group(3)
    key = _SWITCH_KEYS[letters]
    if letters == "A" and rest:
        return "antialias_threshold", rest  # +A0.3 turns antialiasing on with a threshold
    if _ANIMATION_KEYS.get(key) is bool or POVRAY_OPTIONS.get(key, (None,))[0] is bool:
        return key, "on" if sign == "+" else "off"
    return key, rest


def _settings(found, declares, ignored):
    animation = {}
    for key, field in (("initial_frame", "initial_frame"), ("final_frame", "final_frame"),
                       ("initial_clock", "initial_clock"), ("final_clock", "final_clock"),
                       ("cyclic_animation", "cyclic")):
        if key in found:
            animation[field] = found[key]
    subset = ()
    if "antialias_threshold" in found and "antialias" not in found:
        found["antialias"] = True
    if "subset_start_frame" in found or "subset_end_frame" in found:
        subset = (found.get("subset_start_frame", found.get("initial_frame", 1)),
                  found.get("subset_end_frame", found.get("final_frame", 1)))
    options = {}
    for name in POVRAY_OPTIONS:
        if name in found:
            try:
                options[name] = check_povray_option(name, found[name])
            except ValueError as error:
                raise IniRejected("%s %s" % (name, error)) from None
    size = {key: found[key] for key in ("width", "height") if key in found}
    if declares:
        try:
            options["declare"] = check_povray_option("declare", declares)
        except ValueError as error:
            raise IniRejected("Declare: %s" % error) from None
    return IniSettings(animation, subset, size, options, found.get("input_file_name", ""),
                       ignored)


def _value(kind, text, key, number):
    try:
        if kind is bool:
            lowered = text.lower()
            if lowered in _TRUE or lowered in _FALSE:
                return lowered in _TRUE
            raise ValueError
        if kind is int:
            return int(text)
        if kind is float:
            value = float(text)
            if value != value or abs(value) == float("inf"):
                raise ValueError
            return value
        return text
    except ValueError:
        raise IniRejected("line %d: %s=%s is not %s" % (
            number, key, text, {bool: "On or Off", int: "a whole number",
                                float: "a number", str: "text"}[kind])) from None


def _why_ignored(key):
    for pattern, why in _IGNORED_BECAUSE:
        if pattern.search(key):
            return why
    return "not used by the appliance"


def _number(value):
    """A float as POV-Ray's option parser reads it back exactly."""
    return repr(float(value))
