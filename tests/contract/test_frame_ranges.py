"""The one frame-range grammar the CLI and the API both read (`7`, `1-24`, `1-100:5`)."""
import pytest

from raycrafter_contract.frame_ranges import FrameRange, parse_frame_range


@pytest.mark.parametrize("text, frames", [
    ("7", (7, 7, 1)),
    ("1-24", (1, 24, 1)),
    (" 1-24 ", (1, 24, 1)),
    ("1-100:5", (1, 96, 5)),        # the last frame is the last one the step reaches
    ("0-0", (0, 0, 1)),
    ("00007", (7, 7, 1)),
    ("99999", (99999, 99999, 1)),
    ("3-99999:99999", (3, 3, 99999)),
])
def test_ranges_users_write(text, frames):
    assert parse_frame_range(text) == FrameRange(*frames)


def test_a_range_counts_its_frames():
    assert parse_frame_range("1-100:5").count == 20
    assert parse_frame_range("7").count == 1


@pytest.mark.parametrize("text, message", [
    ("24-1", "the last frame comes before the first"),
    ("1-10:0", "the step must be at least 1"),
    ("1..24", "use N, FIRST-LAST or FIRST-LAST:STEP"),
    ("1-", "use N"),
    ("-3", "use N"),
    ("1-24:", "use N"),
    ("1 - 24", "use N"),
    ("100000", "use N"),            # six digits: past the largest frame number
    ("1-100000", "use N"),
    ("", "use N"),
    (None, "use N"),
    ("1-24\n5", "use N"),
    # Where the CLI's and the API's patterns differed: the API's `\d` took any script's
    # digits, and int() read them, so it accepted what the CLI refused.
    ("\uff11-\uff12\uff14", "use N"),               # fullwidth 1-24
    ("\u0661-\u0662\u0664", "use N"),               # Arabic-Indic 1-24
    ("\u0967", "use N"),                            # Devanagari 1
])
def test_anything_else_is_refused_saying_why(text, message):
    with pytest.raises(ValueError, match=message):
        parse_frame_range(text)
