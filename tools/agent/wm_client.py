"""wm_client -- Python client for `wm serve` (protocol v1, docs/agent-protocol.md).

Standard library + numpy only. Two layers:

* ``Client``: one TCP connection = at most one world; methods map 1:1 to protocol messages
  (open, reset, step_actions, step_poses, snapshot, restore, snapshot_free, close_world) and return
  ``Frames`` (RGB uint8 arrays of shape (n, H, W, 3) plus per-frame c2w and intrinsics).
* ``WorldEnv``: a Gymnasium-style environment over a Client: ``reset(seed=...) -> (obs, info)`` and
  ``step(action) -> (obs, reward, terminated, truncated, info)``, where obs is the last RGB frame of the
  chunk and ``info["frames"]`` holds every frame. The world has no task, so reward is 0.0 and episodes
  only end by truncation (``max_chunks``); wrap it to add a task.

Example::

    from wm_client import WorldEnv, Action, KEY_FORWARD
    env = WorldEnv(port=7878, width=320, height=176)
    obs, info = env.reset(seed=3)
    obs, r, term, trunc, info = env.step(Action(keys=KEY_FORWARD))
    print(info["frames"].shape)        # (24, 176, 320, 3)
"""

import socket
import struct

import numpy as np

PROTOCOL_VERSION = 1
MAGIC = b"WMAP"
HEADER = struct.Struct("<4sHHII")  # magic, version, type, length, request id

# Request / reply types (wm/serve/protocol.h).
HELLO, OPEN, RESET, STEP_ACTIONS, STEP_POSES, SNAPSHOT, RESTORE, SNAPSHOT_FREE, CLOSE = range(1, 10)
OK, HELLO_OK, OPENED, FRAMES, SNAPSHOT_ID, ERROR = 64, 65, 66, 67, 68, 127

# wm_action key bits (wm/wm.h).
KEY_FORWARD, KEY_BACK = 1 << 0, 1 << 1
KEY_STRAFE_LEFT, KEY_STRAFE_RIGHT = 1 << 2, 1 << 3
KEY_UP, KEY_DOWN = 1 << 4, 1 << 5
KEY_YAW_LEFT, KEY_YAW_RIGHT = 1 << 6, 1 << 7
KEY_PITCH_UP, KEY_PITCH_DOWN = 1 << 8, 1 << 9
KEY_FAST = 1 << 10

SOURCES = {"procedural": 0, "model": 1}

# wm_status codes (wm/core/status.def), for readable errors.
STATUS_NAMES = ["OK", "INVALID_ARG", "OUT_OF_MEMORY", "IO", "FORMAT", "UNSUPPORTED", "NOT_FOUND", "SHAPE",
                "DTYPE", "NO_DEVICE", "CUDA", "VULKAN", "CODEC", "PROTOCOL", "LIMIT", "STATE", "ABORTED",
                "NO_DISPLAY"]


class WMError(Exception):
    """An ERROR reply from the server (code = wm_status number) or a broken connection (code None)."""

    def __init__(self, code, message):
        name = STATUS_NAMES[code] if code is not None and 0 <= code < len(STATUS_NAMES) else str(code)
        super().__init__("%s: %s" % (name, message))
        self.code = code
        self.message = message


class Action:
    """Held controls for ``n_frames`` frames (0 = the rest of the chunk); axes in [-1, 1]."""

    __slots__ = ("keys", "move_x", "move_y", "move_z", "yaw", "pitch", "n_frames")

    def __init__(self, keys=0, move_x=0.0, move_y=0.0, move_z=0.0, yaw=0.0, pitch=0.0, n_frames=0):
        self.keys, self.n_frames = int(keys), int(n_frames)
        self.move_x, self.move_y, self.move_z = float(move_x), float(move_y), float(move_z)
        self.yaw, self.pitch = float(yaw), float(pitch)

    def pack(self):
        return struct.pack("<I5fi", self.keys, self.move_x, self.move_y, self.move_z, self.yaw, self.pitch,
                           self.n_frames)


class Frames:
    """One batch of frames: rgb (n, H, W, 3) uint8, c2w (n, 4, 4) float32 OpenCV camera-to-world,
    intrinsics (n, 4) float32 [fx, fy, cx, cy], chunk_index, first_frame, ms_generate, ms_total."""

    def __init__(self, payload):
        chunk, first, n, w, h, ms_gen, ms_total = struct.unpack_from("<qqIIIdd", payload, 0)
        off = 44
        poses = np.frombuffer(payload, dtype="<f4", count=n * 20, offset=off).reshape(n, 20)
        off += n * 80
        if len(payload) != off + n * h * w * 3:
            raise WMError(None, "FRAMES reply of %d bytes, expected %d" % (len(payload), off + n * h * w * 3))
        self.rgb = np.frombuffer(payload, dtype=np.uint8, offset=off).reshape(n, h, w, 3)
        self.c2w = poses[:, :16].reshape(n, 4, 4).astype(np.float32)
        self.intrinsics = poses[:, 16:].astype(np.float32)
        self.chunk_index, self.first_frame = chunk, first
        self.ms_generate, self.ms_total = ms_gen, ms_total

    def __len__(self):
        return self.rgb.shape[0]


def _blob(b):
    return struct.pack("<I", len(b)) + b


def _pose_bytes(c2w, intrinsics=None):
    c2w = np.asarray(c2w, dtype=np.float32).reshape(4, 4)
    k = np.zeros(4, np.float32) if intrinsics is None else np.asarray(intrinsics, dtype=np.float32).reshape(4)
    return c2w.astype("<f4").tobytes() + k.astype("<f4").tobytes()


class Client:
    """A connection to `wm serve`. Not thread-safe: use one Client per thread."""

    def __init__(self, host="127.0.0.1", port=7878, token=None, timeout=120.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._req = 0
        self.server_info = None
        if token is not None:
            self.hello(token)

    # -- transport
    def _recv_exact(self, n):
        buf = bytearray(n)
        view, got = memoryview(buf), 0
        while got < n:
            k = self.sock.recv_into(view[got:], n - got)
            if k == 0:
                raise WMError(None, "connection closed by the server")
            got += k
        return bytes(buf)

    def _call(self, mtype, payload=b"", expect=OK):
        self._req = (self._req + 1) & 0xFFFFFFFF
        self.sock.sendall(HEADER.pack(MAGIC, PROTOCOL_VERSION, mtype, len(payload), self._req) + payload)
        magic, version, rtype, length, req = HEADER.unpack(self._recv_exact(HEADER.size))
        if magic != MAGIC or version != PROTOCOL_VERSION:
            raise WMError(None, "bad reply header")
        body = self._recv_exact(length)
        if rtype == ERROR:
            code, n = struct.unpack_from("<II", body, 0)
            raise WMError(code, body[8:8 + n].decode("utf-8", "replace"))
        if rtype != expect or req != self._req:
            raise WMError(None, "unexpected reply type %d (request %d) to %d" % (rtype, req, mtype))
        return body

    # -- protocol messages
    def hello(self, token=""):
        body = self._call(HELLO, _blob(token.encode()), HELLO_OK)
        version, max_message, max_worlds, n = struct.unpack_from("<IIII", body, 0)
        self.server_info = {"protocol": version, "max_message": max_message, "max_worlds": max_worlds,
                            "server": body[16:16 + n].decode()}
        return self.server_info

    def open(self, source="procedural", width=0, height=0, fps=0, frames_per_chunk=0, seed=0, hfov=0.0,
             threads=0, prompt=""):
        """Open this connection's world; 0 means the server default. Returns the effective params."""
        payload = struct.pack("<IIIIIQfI", SOURCES[source], width, height, fps, frames_per_chunk, seed, hfov,
                              threads) + _blob(prompt.encode())
        body = self._call(OPEN, payload, OPENED)
        src, w, h, f, fpc, hf, nt = struct.unpack("<IIIIIfI", body)
        return {"source": src, "width": w, "height": h, "fps": f, "frames_per_chunk": fpc, "hfov": hf,
                "threads": nt}

    def reset(self, seed=0, start_c2w=None, start_intrinsics=None, prompt="", image_bytes=b""):
        """New episode; returns Frames with the start frame (n = 1). seed 0 = the world's seed."""
        has_pose = start_c2w is not None
        pose = _pose_bytes(start_c2w if has_pose else np.eye(4), start_intrinsics)
        payload = struct.pack("<QI", seed, int(has_pose)) + pose + _blob(prompt.encode()) + _blob(image_bytes)
        return Frames(self._call(RESET, payload, FRAMES))

    def step_actions(self, actions):
        """One chunk with held controls (a list of Action, or one Action)."""
        if isinstance(actions, Action):
            actions = [actions]
        payload = struct.pack("<I", len(actions)) + b"".join(a.pack() for a in actions)
        return Frames(self._call(STEP_ACTIONS, payload, FRAMES))

    def step_poses(self, c2w, intrinsics=None):
        """Frames at explicit poses: c2w (n, 4, 4); intrinsics (n, 4) or None for the world defaults."""
        c2w = np.asarray(c2w, dtype=np.float32).reshape(-1, 4, 4)
        ks = [None] * len(c2w) if intrinsics is None else np.asarray(intrinsics, np.float32).reshape(-1, 4)
        payload = struct.pack("<I", len(c2w)) + b"".join(_pose_bytes(p, k) for p, k in zip(c2w, ks))
        return Frames(self._call(STEP_POSES, payload, FRAMES))

    def snapshot(self):
        return struct.unpack("<I", self._call(SNAPSHOT, b"", SNAPSHOT_ID))[0]

    def restore(self, snapshot_id):
        self._call(RESTORE, struct.pack("<I", snapshot_id))

    def snapshot_free(self, snapshot_id):
        self._call(SNAPSHOT_FREE, struct.pack("<I", snapshot_id))

    def close_world(self):
        self._call(CLOSE)

    def close(self):
        try:
            self.sock.close()
        finally:
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.sock is not None:
            self.close()


class WorldEnv:
    """Gymnasium-style environment over one server world (no gymnasium dependency).

    action: an Action, a list of Actions (one chunk), or a dict of Action fields.
    observation: the last RGB frame of the chunk, (H, W, 3) uint8. info: frames (n, H, W, 3), c2w,
    intrinsics, chunk_index, ms_generate."""

    def __init__(self, host="127.0.0.1", port=7878, token=None, max_chunks=100, **open_kwargs):
        self.client = Client(host, port, token)
        self.params = self.client.open(**open_kwargs)
        self.max_chunks = max_chunks

    @staticmethod
    def _info(f):
        return {"frames": f.rgb, "c2w": f.c2w, "intrinsics": f.intrinsics, "chunk_index": f.chunk_index,
                "first_frame": f.first_frame, "ms_generate": f.ms_generate}

    def reset(self, seed=None, options=None):
        options = options or {}
        f = self.client.reset(seed=seed or 0, start_c2w=options.get("start_c2w"), prompt=options.get("prompt", ""),
                              image_bytes=options.get("image_bytes", b""))
        return f.rgb[-1], self._info(f)

    def step(self, action):
        if isinstance(action, dict):
            action = Action(**action)
        f = self.client.step_actions(action)
        # chunk_index comes from the world, so restoring a snapshot also rewinds the episode length.
        return f.rgb[-1], 0.0, False, f.chunk_index >= self.max_chunks, self._info(f)

    def snapshot(self):
        return self.client.snapshot()

    def restore(self, snapshot_id):
        self.client.restore(snapshot_id)

    def close(self):
        self.client.close()
