"""A minimal renderer for the command-renderer tests, started exactly as an operator's
--renderer-command is: it prints the arguments it got as one JSON line (so a test can see
that each arrived literally), then writes a PNG of one flat colour.

usage: flat_png_renderer.py OUTPUT WIDTH HEIGHT [ARGUMENT ...]

Arguments after HEIGHT are only printed, except two switches:
  --child-sleep=SECONDS  first wait for a child process ``sleep SECONDS``, the way wrapper
                         scripts around real renderers run them, for tests that stop a
                         renderer mid-frame
  --exit=STATUS          print an error line and exit with STATUS instead of writing
"""

import json
import struct
import subprocess
import sys
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def flat_png(width, height, rgb=(40, 120, 200)):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    rows = (b"\x00" + bytes(rgb) * width) * height
    return (PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def main(args):
    print("arguments: " + json.dumps(args), flush=True)
    output, width, height = args[0], int(args[1]), int(args[2])
    for argument in args[3:]:
        if argument.startswith("--child-sleep="):
            subprocess.run(["sleep", argument.partition("=")[2]], check=True)
        elif argument.startswith("--exit="):
            print("flat_png_renderer: giving up as asked", flush=True)
            return int(argument.partition("=")[2])
    with open(output, "wb") as image:
        image.write(flat_png(width, height))
    print("wrote %dx%d image to %s" % (width, height, output), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
