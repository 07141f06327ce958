"""The login node's end of a scene staged in as one stream: it unpacks the scene archive by
the contract's scene rule (``raycrafter_contract.scenes``), the code the API checked the
upload with, into the job's input folder.

This module runs on the cluster, not in the worker: the worker ships it, with the
contract's modules, as one zip application built from its own installation
(login_tools.py), so the login node applies exactly the rule the worker and the API were
deployed with, whatever else is installed there. It needs Python 3.8 and the standard
library only.

    python3 receive-scene.pyz --kind tar.gz --size N --sha256 HEX --into JOB/input \\
        [--scene-file NAME] [--max-members M] [--max-bytes B] [--from FILE] [--check]

The archive comes on standard input (or from FILE, already on scratch). A tar of any
compression is unpacked as it arrives; a .zip, whose directory is at its end, and a single
.pov file are first written to a file in the job's folder. Nothing is written outside the
folder holding ``--into``: the scene is unpacked into a new folder beside it and only
then, its bytes counted and their SHA-256 found equal to what the worker sent, put in
``--into``'s place, so an interrupted or damaged transfer never leaves a partial scene
where a complete one is expected.

Once in place, a record beside ``--into`` (``.input-received.json``) holds the archive's
size and SHA-256, the answer and each file's size and SHA-256. With ``--check`` nothing is
read from standard input: the scene in ``--into`` is the one of that archive, every file as
it was unpacked, or not; a job staged in again (waiting for its turn, submitted again) is
so not sent twice.

One JSON line on standard output says what happened; the exit status says it too:
0 unpacked, or in place already ({"main_file", "files", "unpacked_bytes"}), 65 refused by
the rule ({"refused": the rule's words, as the API gives them}), 75 the bytes did not
arrive as sent ({"damaged": why}), 66 with ``--check``, not in place as it was ({"absent":
why}). Anything else (a full disk, no permission) is Python's error on standard error with
exit status 1.
"""
import argparse
import hashlib
import json
import os
import secrets
import shutil
import sys

from raycrafter_contract import scenes

REFUSED = 65
ABSENT = 66
DAMAGED = 75
RECORD_NAME = ".input-received.json"
_CHUNK = 1024 * 1024


class _Received:
    """The archive's bytes as they are read: counted and hashed, and never more than the
    size the worker announced."""

    def __init__(self, raw, size):
        self._raw = raw
        self._left = size
        self.count = 0
        self.digest = hashlib.sha256()

    def read(self, size=-1):
        if size is None or size < 0:
            size = self._left
        data = self._raw.read(min(size, self._left)) if self._left else b""
        self._left -= len(data)
        self.count += len(data)
        self.digest.update(data)
        return data

    def drain(self):
        while self.read(_CHUNK):
            pass


def main(argv=None):
    arguments = _parser().parse_args(argv)
    limits = scenes.SceneLimits(max_members=arguments.max_members,
                                max_bytes=arguments.max_bytes)
    into = os.path.abspath(arguments.into)
    folder = os.path.dirname(into)
    record = os.path.join(folder, RECORD_NAME)
    if arguments.check:
        return _check(arguments, into, record)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    token = secrets.token_hex(6)
    fresh = os.path.join(folder, ".input-new-" + token)
    raw = open(arguments.source, "rb") if arguments.source else sys.stdin.buffer
    received = _Received(raw, arguments.size)
    try:
        try:
            scene = _unpack(received, arguments, limits, fresh,
                            os.path.join(folder, ".scene-" + token))
        except scenes.SceneRejected as refusal:
            # A scene cut short on its way reads as a damaged archive: only the bytes
            # that were sent, whole, are the user's to answer for.
            received.drain()
            if _arrived_whole(received, arguments):
                return _answer(REFUSED, refused=str(refusal))
            return _damaged(received, arguments)
        received.drain()
        if not _arrived_whole(received, arguments):
            return _damaged(received, arguments)
        answer = {"main_file": scene.main_file, "files": len(scene.files),
                  "unpacked_bytes": scene.unpacked_bytes}
        checksums = {name: _file_checksum(os.path.join(fresh, name)) for name in scene.files}
        # No record while the scene is being replaced: one cut off there is sent again.
        if os.path.lexists(record):
            os.unlink(record)
        _put_in_place(fresh, into, os.path.join(folder, ".input-old-" + token))
        _write_record(record, {"size": arguments.size, "sha256": arguments.sha256,
                               "answer": answer, "files": checksums}, token)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
        if arguments.source:
            raw.close()
    return _answer(0, **answer)


def _check(arguments, into, record):
    """Whether ``into`` holds the archive's scene as it was unpacked (``--check``)."""
    try:
        with open(record) as f:
            received = json.load(f)
    except (OSError, ValueError):
        return _answer(ABSENT, absent="no scene was received there")
    if (received.get("size"), received.get("sha256")) != (arguments.size, arguments.sha256):
        return _answer(ABSENT, absent="another archive was received there")
    for name, checksum in received["files"].items():
        try:
            now = _file_checksum(os.path.join(into, name))
        except OSError as error:
            return _answer(ABSENT, absent="%s: %s" % (name, error.strerror))
        if now != checksum:
            return _answer(ABSENT, absent="%s changed since it was received" % name)
    return _answer(0, **received["answer"])


def _file_checksum(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return [os.path.getsize(path), digest.hexdigest()]


def _write_record(record, content, token):
    partial = "%s.%s" % (record, token)
    with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        json.dump(content, f)
    os.rename(partial, record)


def _parser():
    parser = argparse.ArgumentParser(prog="receive-scene")
    parser.add_argument("--kind", required=True, choices=[kind for kind, _ in scenes.KINDS])
    parser.add_argument("--size", required=True, type=int)
    parser.add_argument("--sha256", required=True)
    parser.add_argument("--into", required=True)
    parser.add_argument("--scene-file", default=None)
    parser.add_argument("--max-members", type=int, default=scenes.SceneLimits.max_members)
    parser.add_argument("--max-bytes", type=int, default=scenes.SceneLimits.max_bytes)
    parser.add_argument("--from", dest="source", default=None)
    parser.add_argument("--check", action="store_true")
    return parser


def _unpack(received, arguments, limits, target, spool):
    """Unpack into ``target``; a scene that cannot be read forward is written to ``spool``
    first (and removed)."""
    if arguments.kind.startswith("tar"):
        return scenes.unpack_from(received, arguments.size, arguments.kind, target, limits,
                                  arguments.scene_file)
    try:
        with open(os.open(spool, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600), "w+b") as copy:
            shutil.copyfileobj(received, copy, _CHUNK)
            size = copy.tell()
            copy.seek(0)
            return scenes.unpack_from(copy, size, arguments.kind, target, limits,
                                      arguments.scene_file)
    finally:
        if os.path.lexists(spool):
            os.unlink(spool)


def _arrived_whole(received, arguments):
    return received.count == arguments.size and \
        received.digest.hexdigest() == arguments.sha256


def _damaged(received, arguments):
    return _answer(DAMAGED, damaged="%d bytes arrived with SHA-256 %s, not the %d bytes "
                   "with SHA-256 %s that were sent" % (received.count,
                                                       received.digest.hexdigest(),
                                                       arguments.size, arguments.sha256))


def _put_in_place(fresh, into, old):
    """Replace ``into`` (a scene staged in before, or nothing) with ``fresh``; at no moment
    does ``into`` hold a part of either."""
    replaced = False
    try:
        os.rename(into, old)
        replaced = True
    except FileNotFoundError:
        pass
    os.rename(fresh, into)
    if replaced:
        shutil.rmtree(old, ignore_errors=True)


def _answer(status, **fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
