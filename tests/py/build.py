"""docker-py (7.x) build check run by tests/tests/image/t70_build.rs.

Usage: build.py <tag>; DOCKER_HOST points at the daemon under test. Builds a context sent as a
custom tar (fileobj + custom_context), checks the streamed log and the image, prints "ok build".
"""

import io
import sys
import tarfile

import docker

client = docker.from_env(timeout=120)
tag = sys.argv[1]


def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz") as tar:
    add(tar, "Dockerfile", b"FROM busybox\nCOPY hello.txt /hello.txt\nRUN echo sdk-run-output\nCMD [\"cat\", \"/hello.txt\"]\n")
    add(tar, "hello.txt", b"hello from docker-py\n")
buf.seek(0)

image, logs = client.images.build(fileobj=buf, custom_context=True, encoding="gzip", tag=tag, rm=True)
logs = list(logs)
text = "".join(l.get("stream", "") for l in logs)
assert "Step 1/4 : FROM busybox" in text, text
assert "sdk-run-output" in text, text
assert any("aux" in l for l in logs), logs
assert tag in image.tags or tag + ":latest" in image.tags, image.tags
out = client.containers.run(tag, remove=True)
assert out == b"hello from docker-py\n", out

# A failing build raises BuildError carrying the daemon's message.
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as tar:
    add(tar, "Dockerfile", b"FROM busybox\nRUN exit 5\n")
buf.seek(0)
try:
    client.images.build(fileobj=buf, custom_context=True)
    raise AssertionError("a failing RUN built")
except docker.errors.BuildError as e:
    assert "returned a non-zero code: 5" in str(e), str(e)
print("ok build")
