"""docker-py (7.x) stream checks run by tests/tests/sdk/t20_dockerpy.rs.

Usage: streams.py <case> <name-prefix>; DOCKER_HOST points at the daemon under test.
Each case raises (non-zero exit, traceback on stderr) on the first wrong answer and prints
"ok <case>" when every check passed.
"""

import json
import os
import socket
import sys
import tempfile
import time

import docker

client = docker.from_env(timeout=120)
IMAGE = "busybox"


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def sleeper(name, **kw):
    return client.containers.run(IMAGE, "sleep 600", name=name, detach=True, **kw)


def case_exec(prefix):
    """exec_run returns the output of echo every time, with and without demux and stream."""
    c = sleeper(prefix + "-exec")
    try:
        for i in range(200):
            code, out = c.exec_run("echo hello")
            check((code, out) == (0, b"hello\n"), f"run {i}: exec_run gave {code!r} {out!r}")
        for i in range(20):
            code, (out, err) = c.exec_run(["sh", "-c", "echo out; echo err >&2; exit 3"], demux=True)
            check((code, out, err) == (3, b"out\n", b"err\n"),
                  f"run {i}: demux gave {code!r} {out!r} {err!r}")
            res = c.exec_run(["sh", "-c", "echo a; echo b >&2"], stream=True, demux=True)
            got_out, got_err = b"", b""
            for o, e in res.output:
                got_out += o or b""
                got_err += e or b""
            check((got_out, got_err) == (b"a\n", b"b\n"), f"run {i}: stream demux {got_out!r} {got_err!r}")
        # More output than any in-memory queue holds, read slowly: nothing may be lost.
        res = c.exec_run(["sh", "-c", "seq 1 200000"], stream=True)
        data = b""
        for chunk in res.output:
            data += chunk
            if len(data) < 100000:
                time.sleep(0.001)
        want = "".join(f"{n}\n" for n in range(1, 200001)).encode()
        check(data == want, f"large exec output: {len(data)} bytes, want {len(want)}")
        code, out = c.exec_run("sh -c 'exit 7'")
        check(code == 7, f"exit code {code}")
    finally:
        c.remove(force=True)


def raw_sock(s):
    return getattr(s, "_sock", s)


def expect_closed(sock, what):
    """After a detach, the server closes the connection: reads see EOF."""
    sock.settimeout(30)
    data = b""
    while True:
        try:
            b = sock.recv(4096)
        except socket.timeout:
            raise AssertionError(f"{what}: connection still open 30 s after the detach keys")
        if not b:
            return data
        data += b


def case_detach(prefix):
    """Detach keys end an attach and an exec session; the container keeps running."""
    api = client.api
    for keys, seq, tty in [(None, b"\x10\x11", True), ("ctrl-x,y", b"\x18y", False)]:
        name = f"{prefix}-att{'t' if tty else 'n'}"
        # docker-py sets StdinOnce with stdin_open: without a TTY the first
        # attach's end (or detach) closes stdin and cat ends; sleep keeps it up.
        c = client.containers.create(IMAGE, ["sh", "-c", "cat; sleep 600"], name=name,
                                     stdin_open=True, tty=tty)
        try:
            c.start()
            params = {"stdin": True, "stream": True, "stdout": True}
            if keys:
                params["detachKeys"] = keys
            sock = raw_sock(api.attach_socket(c.id, params))
            sock.sendall(b"x\n")
            time.sleep(0.2)
            sock.sendall(seq)
            expect_closed(sock, f"attach detach {keys}")
            c.reload()
            check(c.status == "running", f"after attach detach the container is {c.status}")
            # The exec variant: a `cat` exec with stdin, detached by the keys.
            ex = api.exec_create(c.id, "cat", stdin=True, tty=tty, detach_keys=keys)
            sock = raw_sock(api.exec_start(ex["Id"], socket=True, tty=tty))
            sock.sendall(b"y\n")
            time.sleep(0.2)
            sock.sendall(seq)
            expect_closed(sock, f"exec detach {keys}")
            if tty:
                # Without a TTY dockerd closes the exec's stdin on detach (cat ends).
                info = api.exec_inspect(ex["Id"])
                check(info["Running"], f"exec stopped by the detach: {info}")
            c.reload()
            check(c.status == "running", f"after exec detach the container is {c.status}")
        finally:
            c.remove(force=True)
    # Keys from the client config (docker-py sends them as detachKeys) and a sequence that
    # only starts like the keys passes through untouched.
    c = client.containers.create(IMAGE, ["sh", "-c", "cat; sleep 600"], name=prefix + "-cfg",
                                 stdin_open=True)
    try:
        c.start()
        with tempfile.TemporaryDirectory() as cfg:
            with open(os.path.join(cfg, "config.json"), "w") as f:
                json.dump({"detachKeys": "ctrl-a"}, f)
            os.environ["DOCKER_CONFIG"] = cfg
            cfg_api = docker.from_env(timeout=120).api
        # docker-py sends the config's keys as detachKeys.
        sock = raw_sock(cfg_api.attach_socket(c.id, {"stdin": 1, "stream": 1, "stdout": 1}))
        sock.sendall(b"q\x10z\n")
        sock.settimeout(30)
        got = b""
        while b"q\x10z\n" not in got:
            b = sock.recv(4096)
            check(b, f"stream ended early: {got!r}")
            got += b
        sock.sendall(b"\x01")
        expect_closed(sock, "attach detach ctrl-a")
        c.reload()
        check(c.status == "running", f"after ctrl-a the container is {c.status}")
    finally:
        c.remove(force=True)


def case_logs(prefix):
    """Followed logs deliver lines while the container runs and end when it exits."""
    script = "for i in 1 2 3; do echo line$i; sleep 1; done"
    c = client.containers.run(IMAGE, ["sh", "-c", script], name=prefix + "-logs", detach=True)
    try:
        lines = []
        running_at_first = None
        for chunk in c.logs(stream=True, follow=True):
            lines.append(chunk)
            if running_at_first is None:
                c.reload()
                running_at_first = c.status
        check(b"".join(lines) == b"line1\nline2\nline3\n", f"followed logs: {lines!r}")
        check(running_at_first == "running", f"first line came when the container was {running_at_first}")
        c.reload()
        check(c.status == "exited", f"stream ended but container is {c.status}")
    finally:
        c.remove(force=True)
    out = client.containers.run(IMAGE, ["sh", "-c", script + "; echo err >&2"],
                                name=prefix + "-runs", stream=True, stderr=True, remove=True)
    got = list(out)
    check(b"".join(got) == b"line1\nline2\nline3\nerr\n", f"run(stream=True): {got!r}")
    # Plain (not streamed) run returns everything too.
    out = client.containers.run(IMAGE, ["sh", "-c", "echo plain"], remove=True)
    check(out == b"plain\n", f"run(): {out!r}")


CASES = {"exec": case_exec, "detach": case_detach, "logs": case_logs}


CASES = {"exec": case_exec, "detach": case_detach, "logs": case_logs}


if __name__ == "__main__":
    CASES[sys.argv[1]](sys.argv[2])
    print("ok", sys.argv[1])
