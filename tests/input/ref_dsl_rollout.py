#!/usr/bin/python3
"""Reference rollout of the SANA-WM action DSL (spec §4.9), written from the description of
inference_video_scripts/camera_control.py (VelocityState + CameraPoseIntegrator, smooth=True), in
float64 numpy. Prints selected poses as C initialisers for tests/input/test_trajectory.c.
Usage: /usr/bin/python3 tests/input/ref_dsl_rollout.py 'wd-20,none-10,il-15,k-30'"""
import math, sys
import numpy as np

TR, ROT, PL, TP, TC, FPS = 0.025, math.radians(0.6), math.radians(60.0), 0.45, 1.0, 16
M = {"w": (0, 1), "s": (0, -1), "l": (1, 1), "j": (1, -1), "d": (2, 1), "a": (2, -1), "i": (3, 1), "k": (3, -1)}

def rx(a):
    c, s = math.cos(a), math.sin(a); return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
def ry(a):
    c, s = math.cos(a), math.sin(a); return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])

def rollout(dsl):
    frames = []
    for seg in dsl.split(","):
        k, n = seg.rsplit("-", 1)
        frames += [set() if k == "none" else set(k)] * int(n)
    pose, pitch, vel, last = np.eye(4), 0.0, np.zeros(4), set()
    out = [pose.copy()]
    for held in frames:
        tgt = np.zeros(4)
        for c in held:
            i, sgn = M[c]; tgt[i] += sgn
        tgt *= [TR, TR, ROT, ROT]
        if held - last: vel = tgt.copy()
        else:
            for i in range(4):
                tau = TP if abs(tgt[i]) > 1e-12 else TC
                vel[i] += (1 - math.exp(-1 / FPS / tau)) * (tgt[i] - vel[i])
        last = held
        npitch = max(-PL, min(PL, pitch + vel[3])); dp = npitch - pitch; pitch = npitch
        R = ry(vel[2]) @ pose[:3, :3] @ rx(dp)
        f = R[:, 2].copy(); f[1] = 0; r = R[:, 0].copy(); r[1] = 0
        if np.linalg.norm(f) > 0: f /= np.linalg.norm(f) + 1e-6
        if np.linalg.norm(r) > 0: r /= np.linalg.norm(r) + 1e-6
        t = pose[:3, 3] + f * vel[0] + r * vel[1]
        pose = np.eye(4); pose[:3, :3] = R; pose[:3, 3] = t
        out.append(pose.copy())
    return np.stack(out).astype(np.float32)

if __name__ == "__main__":
    P = rollout(sys.argv[1])
    for i in (len(P) // 3, 2 * len(P) // 3, len(P) - 1):
        print("{%d, {%s}}," % (i, ", ".join("%.8ef" % v for v in P[i].reshape(-1))))
