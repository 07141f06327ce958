"""Scenes staged in as one stream: the archive goes to the login node over the worker's SSH
connection and is unpacked there by the contract's scene rule, the rule the API checked it
by. The hostile uploads of bench/hostile_uploads.py and the escaping archives of the
contract tests are posted to the real API and replayed on the real login node; a scene of
2,000 files goes through the real worker and is rendered by the real node agent."""
import hashlib
import io
import os
import shlex
import tarfile

import pytest
import requests

from raycrafter_contract import scenes
from raycrafter_contract.scenes import SceneLimits
from raycrafter_worker import login_tools
from raycrafter_worker.cluster import file_checksum
from raycrafter_worker.errors import PermanentError
from support.api_server import ApiServer, create_user, write_config
from support.hostile_archives import REFUSED_TARS, UPLOADS, tar_of
from support.polling import wait_for
from support.worker_harness import publish

from conftest import only_way
from test_worker_flow import CLUSTER, api, broker, job_of, start_worker  # noqa: F401

NODE_AGENT = "/opt/raycrafter/nodeagent/bin/raycrafter-nodeagent"
# Every case: (label, upload name, archive builder, what the rule does).
CASES = UPLOADS + [(f"tar: {label}", "escape.tar.gz", lambda entries=entries: tar_of(entries),
                    "refused") for label, (entries, _) in REFUSED_TARS.items()]


@pytest.fixture(scope="module")
def uploads(tmp_path_factory):
    """The real API, to say what it answers each upload."""
    folder = tmp_path_factory.mktemp("api")
    config = write_config(folder / "api.toml", database_url=f"sqlite:///{folder}/api.db",
                          data_dir=str(folder / "data"))
    with ApiServer(config) as server:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {create_user(config, 'hostile')}"
        yield lambda name, content: session.post(
            f"{server.url}/jobs", files={"scene": (name, content)},
            data={"name": "hostile", "frames": "1", "width": "32", "height": "24"},
            timeout=600)


def test_hostile_uploads_are_refused_on_the_login_node_as_the_api_refuses_them(
        make_cluster, login, test_scratch, tmp_path, uploads):
    cluster = only_way(make_cluster(), "stream")
    stream = cluster.stager.ways["stream"]
    login_tools.install_receiver(cluster.transport, cluster.profile)
    marker = f"{test_scratch}/before"
    login(f"touch {marker}")
    # The jobs' folders (made here) are the only things that may change.
    outside = (f"find {test_scratch} ~ -newer {marker} -not -path '{test_scratch}/raycrafter' "
               f"-not -path '{test_scratch}/raycrafter/*'")
    for number, (label, name, build, expected) in enumerate(CASES):
        content = build()
        answer = uploads(name, content)
        assert answer.status_code == (400 if expected == "refused" else 201), label
        archive = tmp_path / f"{number}-{name}"
        archive.write_bytes(content)
        job = f"{test_scratch}/raycrafter/{number}"
        cluster.make_dirs([job])
        receive = lambda: stream.receive_scene(  # noqa: E731
            str(archive), scenes.kind_of(name), file_checksum(archive), f"{job}/input",
            SceneLimits(), None)
        if expected == "refused":
            with pytest.raises(PermanentError) as refused:
                receive()
            assert str(refused.value) == \
                f"the scene cannot be unpacked: {answer.json()['message']}", label
            assert login(f"ls -A {job}").stdout == "", label
        else:
            assert receive()["main_file"] == "scene.pov"
            here = tmp_path / f"{number}-unpacked"
            scene = scenes.unpack(str(archive), scenes.kind_of(name), str(here))
            there = login(f"cd {job}/input && sha256sum " + shlex.join(scene.files)).stdout
            assert there.split() == [part for name in scene.files for part in (
                hashlib.sha256((here / name).read_bytes()).hexdigest(), name)], label
        assert login(outside).stdout == "", label


def test_a_scene_of_2000_files_staged_in_as_one_stream_is_rendered(
        api, broker, start_worker, login, test_scratch):  # noqa: F811
    worker = start_worker(nodeagent=NODE_AGENT, agent_api_url=api.base, setup=[])
    includes = [f"textures/wood grain {n:04d}.inc" for n in range(1999)]
    scene = b"#version 3.7;\n" + b"".join(
        b'#include "%s"\n' % name.encode() for name in includes) + (
        b"camera { location <0, 1, -4> look_at <0, 0.5, 0> }\n"
        b"light_source { <3, 5, -3> color rgb 1 }\n"
        b"sphere { <0, 0.5, 0>, Radius1998 pigment { color rgb <1, 0.4, 0.1> } }\n")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in [("scene.pov", scene)] + [
                (name, b"#declare Radius%d = 0.%d;\n" % (n, 1 + n % 9))
                for n, name in enumerate(includes)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    response = api.user.post(f"{api.url}/jobs",
                             files={"scene": ("forest.tar.gz", buffer.getvalue())},
                             data={"name": "2,000 files", "frames": "1", "width": "64",
                                   "height": "48"})
    assert response.status_code == 201, response.text
    job = response.json()
    publish(broker.admin_url, "submit", job["id"], CLUSTER)
    # The stand-in's one node is shared: the batch job may wait its turn.
    wait_for(lambda: job_of(api, job["id"])["state"] in ("collecting", "failed"),
             timeout=900, message="the job rendered")
    assert job_of(api, job["id"])["state"] == "collecting", job_of(api, job["id"])["error"]
    publish(broker.admin_url, "collect", job["id"], CLUSTER)  # what the API's relay sends
    wait_for(lambda: job_of(api, job["id"])["state"] == "done", timeout=60, message="done")
    frame = api.user.get(f"{api.url}/jobs/{job['id']}/frames/1")
    assert frame.status_code == 200 and frame.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert f"/raycrafter/{job['id']}/input on {CLUSTER}: stream, about" in worker.log()
    input_dir = f"{test_scratch}/raycrafter/{job['id']}/input"
    assert login(f"find {shlex.quote(input_dir)} -type f | wc -l").stdout.split() == ["2000"]
