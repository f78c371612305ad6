#!/usr/bin/python3
"""The Python agent client against a real `wm serve` process (loopback, free port):
a Gymnasium-style episode, determinism across connections, branching through snapshots, explicit
poses, error replies as exceptions, concurrent clients, the token handshake (--token-file), and a
clean shutdown on SIGTERM.
Usage: test_client.py PATH/TO/wm   (exit 0 = pass, 1 = fail, 77 = skipped)."""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

try:
    import numpy as np
except ImportError:  # CI calls /usr/bin/python3, which has numpy; anything else skips
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "agent"))
import wm_client as wc  # noqa: E402

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, file=sys.stderr)


def start_server(wm, extra=()):
    tmp = tempfile.mkdtemp(prefix="wm_serve_test_")
    port_file = os.path.join(tmp, "port")
    proc = subprocess.Popen([wm, "serve", "--port", "0", "--port-file", port_file, "--max-worlds", "8",
                             "--threads", "1"] + list(extra), stderr=subprocess.PIPE)
    for _ in range(100):
        if os.path.exists(port_file):
            return proc, int(open(port_file).read())
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


def episode(port, seed, chunks=2):
    env = wc.WorldEnv(port=port, width=64, height=40, frames_per_chunk=6, max_chunks=chunks)
    obs, info = env.reset(seed=seed)
    out = [info["frames"].copy()]
    trunc = False
    while not trunc:
        obs, reward, term, trunc, info = env.step(wc.Action(keys=wc.KEY_FORWARD | wc.KEY_YAW_LEFT))
        out.append(info["frames"].copy())
    env.close()
    return np.concatenate(out), info


def test_episode(port):
    frames, info = episode(port, 5)
    check(frames.shape == (13, 40, 64, 3) and frames.dtype == np.uint8, "episode shape %s" % (frames.shape,))
    check(info["chunk_index"] == 2 and info["first_frame"] == 7, "chunk bookkeeping")
    check(info["c2w"].shape == (6, 4, 4) and info["c2w"][-1][2, 3] > 0.05, "camera moved forward")
    check(np.abs(frames[-1].astype(int) - frames[0].astype(int)).mean() > 1.0, "the view changes")
    again, _ = episode(port, 5)
    check(np.array_equal(frames, again), "same seed and actions give identical frames")
    other, _ = episode(port, 6)
    check(not np.array_equal(frames[0], other[0]), "another seed gives another world")


def test_branching_and_poses(port):
    with wc.Client(port=port) as c:
        p = c.open(width=48, height=32, frames_per_chunk=4)
        check(p["width"] == 48 and p["frames_per_chunk"] == 4 and p["fps"] == 16, "effective params")
        c.reset(seed=9)
        c.step_actions(wc.Action(keys=wc.KEY_FORWARD))
        snap = c.snapshot()
        a = c.step_actions([wc.Action(keys=wc.KEY_YAW_RIGHT, n_frames=2), wc.Action(keys=wc.KEY_FORWARD)])
        c.step_actions(wc.Action(keys=wc.KEY_STRAFE_LEFT))
        c.restore(snap)
        b = c.step_actions([wc.Action(keys=wc.KEY_YAW_RIGHT, n_frames=2), wc.Action(keys=wc.KEY_FORWARD)])
        check(np.array_equal(a.rgb, b.rgb) and np.array_equal(a.c2w, b.c2w), "restore reproduces the branch")
        check(a.chunk_index == b.chunk_index == 2, "restore rewinds the chunk index")
        c2w = np.repeat(np.eye(4, dtype=np.float32)[None], 3, axis=0)
        c2w[:, 0, 3] = [0.0, 0.5, 1.0]
        f = c.step_poses(c2w)
        check(len(f) == 3 and np.allclose(f.c2w, c2w) and (f.intrinsics[:, 0] > 0).all(), "explicit poses")
        try:
            c.step_actions(wc.Action(yaw=3.0))
            check(False, "an out-of-range axis must raise")
        except wc.WMError as e:
            check(e.code == 1 and "axis" in e.message, "INVALID_ARG with a message: %s" % e)
        try:
            c.restore(12345)
            check(False, "an unknown snapshot must raise")
        except wc.WMError as e:
            check(e.code == 6, "NOT_FOUND for an unknown snapshot")
        c.snapshot_free(snap)
        f = c.step_actions([])  # the connection still works after errors: an idle chunk
        check(len(f) == 4, "idle chunk")
        c.close_world()
    with wc.Client(port=port) as c:
        try:
            c.open(source="model")
            check(False, "a model world without a model on the server must be refused")
        except wc.WMError as e:  # UNSUPPORTED without the pipeline, INVALID_ARG (no --model) with it
            check(e.code in (1, 5), "model source refused cleanly: %s" % e)


def test_concurrent(port):
    results = [None] * 6

    def run(i):
        try:
            results[i] = episode(port, i % 3)[0]
        except Exception as e:  # recorded, reported below
            results[i] = e
    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ok = all(isinstance(r, np.ndarray) for r in results)
    check(ok, "concurrent clients: %s" % [type(r).__name__ for r in results])
    if ok:
        check(all(np.array_equal(results[i], results[i + 3]) for i in range(3)), "concurrent determinism")


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        check(False, "server did not stop on SIGTERM")
    check(proc.returncode == 0, "server exit code %s: %s" % (proc.returncode, err.decode()[-500:]))


def test_token(wm):
    tok_file = os.path.join(tempfile.mkdtemp(prefix="wm_serve_tok_"), "token")
    with open(tok_file, "w") as f:
        f.write("s3cret\n")
    proc, port = start_server(wm, ["--token-file", tok_file])
    try:
        try:
            wc.Client(port=port).open(width=32, height=32)
            check(False, "a token server must refuse a client without HELLO")
        except (wc.WMError, OSError) as e:
            check(getattr(e, "code", None) in (13, None), "PROTOCOL error without a token: %s" % e)
        try:
            wc.Client(port=port, token="wrong")
            check(False, "a wrong token must be refused")
        except (wc.WMError, OSError):
            pass
        with wc.Client(port=port, token="s3cret") as c:
            check(c.server_info["protocol"] == 1, "HELLO_OK carries the protocol version")
            c.open(width=32, height=32, frames_per_chunk=2)
            check(len(c.reset(seed=1)) == 1, "episode after HELLO")
    finally:
        stop_server(proc)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    proc, port = start_server(sys.argv[1])
    try:
        test_episode(port)
        test_branching_and_poses(port)
        test_concurrent(port)
    finally:
        stop_server(proc)
    test_token(sys.argv[1])
    print("%d failures" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
