"""Size and SHA-256 of a file on the worker, as the cluster's checksums give them."""
import hashlib


def file_checksum(path):
    """(size, SHA-256 in hex) of the file at ``path``, read in steps of 1 MiB."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
