/* ring.h -- the bounded frame ring between the generator thread and the UI thread, plus the
 * per-tick action queue going the other way.
 *
 * The generator blocks (condition variable) until a whole chunk fits; the UI only ever takes the lock
 * for a memcpy-free pointer swap or a short copy, never waits on the generator. Slots are allocated
 * once at the video size (no per-frame allocation). Actions sampled by the UI once per video tick are
 * queued (newest kept when full) and taken by the generator when it starts a chunk: that is the
 * moment the chunk's pose list is fixed (issue 5).
 */
#ifndef WM_RENDER_RING_H
#define WM_RENDER_RING_H

#include "wm/wm.h"
#include <pthread.h>
#include <stdint.h>

typedef struct wm_ring_slot {
    uint8_t *rgb;
    wm_pose pose;
    int64_t frame_index, chunk_index;
    int frame_in_chunk;
    double input_t;              /* when the input this frame follows was sampled (0 = none) */
} wm_ring_slot;

#define WM_ACTION_QUEUE 256

typedef struct wm_ring {
    pthread_mutex_t mu;
    pthread_cond_t space;        /* signalled when the UI frees slots or on quit */
    wm_ring_slot *slots;
    int cap, head, count;        /* frames [head, head+count) are ready, oldest first */
    int width, height;
    wm_action actions[WM_ACTION_QUEUE];
    double action_t[WM_ACTION_QUEUE];
    int n_actions;
    int quit;
} wm_ring;

wm_status wm_ring_init(wm_ring *r, int cap, int width, int height);
void wm_ring_free(wm_ring *r);
/* Generator: wait until n slots are free (returns 0 if quitting). */
int wm_ring_wait_space(wm_ring *r, int n);
/* Generator: wait until n slots are free AND at most max_depth frames are still waiting to be shown
 * (returns 0 if quitting). Starting a chunk just in time, instead of as soon as it fits, keeps the
 * frames queued ahead of the screen -- and so the delay between a key press and its effect -- near
 * the generation time instead of the whole ring. */
int wm_ring_wait_ready(wm_ring *r, int n, int max_depth);
/* Generator: append a frame (caller ensured space). */
void wm_ring_push(wm_ring *r, const uint8_t *rgb, const wm_pose *pose, int64_t frame, int64_t chunk, int in_chunk,
                  double input_t);
/* UI: pop up to `max` oldest frames, copying the newest popped into *out (rgb buffer of the slot
 * size); returns the number popped (0 = none ready). */
int wm_ring_pop(wm_ring *r, int max, wm_ring_slot *out);
int wm_ring_depth(wm_ring *r);
/* UI: queue the action sampled this tick. Generator: take up to n queued actions (oldest first). */
void wm_ring_put_action(wm_ring *r, const wm_action *a, double t);
int wm_ring_take_actions(wm_ring *r, wm_action *out, double *t_out, int n);
void wm_ring_quit(wm_ring *r);

#endif
