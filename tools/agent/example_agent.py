#!/usr/bin/python3
"""example_agent.py -- a curiosity-driven explorer for `wm serve`, showing reset/step and branching.

At every chunk the agent snapshots the world, tries each candidate action from that state, scores the
resulting chunk by how much the view changed (mean absolute difference between the first and last
frame: new things came into sight), restores the snapshot and commits the best action. That is the
"branch from a state" pattern the snapshot API exists for.

    wm serve &                                   # loopback, port 7878
    /usr/bin/python3 tools/agent/example_agent.py --chunks 5 --seed 3 [--save out.npy]
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wm_client import (KEY_FORWARD, KEY_STRAFE_LEFT, KEY_STRAFE_RIGHT, KEY_YAW_LEFT,  # noqa: E402
                       KEY_YAW_RIGHT, Action, WorldEnv)

CANDIDATES = {
    "forward": Action(keys=KEY_FORWARD),
    "forward+left": Action(keys=KEY_FORWARD | KEY_YAW_LEFT),
    "forward+right": Action(keys=KEY_FORWARD | KEY_YAW_RIGHT),
    "strafe-left": Action(keys=KEY_STRAFE_LEFT),
    "strafe-right": Action(keys=KEY_STRAFE_RIGHT),
}


def novelty(frames):
    return float(np.abs(frames[-1].astype(np.int16) - frames[0].astype(np.int16)).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7878)
    ap.add_argument("--token", default=os.environ.get("WM_SERVE_TOKEN"))
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--chunks", type=int, default=5)
    ap.add_argument("--size", default="176x320", help="HxW of the frames")
    ap.add_argument("--save", help="write all committed frames to this .npy file")
    args = ap.parse_args()
    h, w = (int(v) for v in args.size.split("x"))

    env = WorldEnv(args.host, args.port, args.token, max_chunks=args.chunks, width=w, height=h)
    obs, info = env.reset(seed=args.seed)
    video = [info["frames"]]
    for _ in range(args.chunks):
        snap = env.snapshot()
        scores = {}
        for name, act in CANDIDATES.items():
            env.restore(snap)
            _, _, _, _, trial = env.step(act)
            scores[name] = novelty(trial["frames"])
        best = max(scores, key=scores.get)
        env.restore(snap)
        env.client.snapshot_free(snap)
        obs, _, _, truncated, info = env.step(CANDIDATES[best])
        pos = info["c2w"][-1][:3, 3]
        print("chunk %d: %-13s novelty %5.1f  camera at (%.2f, %.2f, %.2f)  %.0f ms"
              % (info["chunk_index"], best, scores[best], pos[0], pos[1], pos[2], info["ms_generate"]))
        video.append(info["frames"])
        if truncated:
            break
    env.close()
    if args.save:
        np.save(args.save, np.concatenate(video))
        print("saved", args.save)


if __name__ == "__main__":
    main()
