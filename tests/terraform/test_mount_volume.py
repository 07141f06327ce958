"""The first-boot script that mounts a role's volume (terraform/appliance/cloud-init/
mount-volume.sh), on a real block device: a loop device holding the file system of an
earlier first boot is found by its label and mounted at the role's path, and once
mounted a second run changes nothing. (A blank disk is formatted only on a cloud host.)"""
import os
import pathlib
import subprocess

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "terraform" / "appliance" / "cloud-init" / "mount-volume.sh"


@pytest.fixture
def labelled_device(tmp_path):
    assert os.geteuid() == 0, "loop devices and mounts need root"
    image = tmp_path / "volume.img"
    with image.open("wb") as handle:
        handle.truncate(64 * 1024 * 1024)
    label = f"rc-test-{os.getpid()}"
    subprocess.run(["mkfs.ext4", "-q", "-L", label, str(image)], check=True)
    device = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True,
                            text=True, check=True).stdout.strip()
    yield device, label
    subprocess.run(["losetup", "-d", device], capture_output=True)


def test_a_volume_found_by_its_label_is_mounted_at_the_roles_path(labelled_device, tmp_path):
    device, label = labelled_device
    path = tmp_path / "data"
    fstab = pathlib.Path("/etc/fstab")
    saved = fstab.read_text() if fstab.exists() else ""
    try:
        for _ in range(2):
            done = subprocess.run(["sh", str(SCRIPT), str(path), label], capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            mounted = subprocess.run(["findmnt", "-no", "SOURCE", str(path)], capture_output=True,
                                     text=True).stdout.strip()
            assert mounted == device
        assert fstab.read_text().count(f"LABEL={label} {path} ext4") == 1
    finally:
        subprocess.run(["umount", str(path)], capture_output=True)
        fstab.write_text(saved)
