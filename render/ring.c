/* ring.c -- bounded frame ring + action queue (see ring.h). */
#include "render/ring.h"

#include <stdlib.h>
#include <string.h>

wm_status wm_ring_init(wm_ring *r, int cap, int w, int h)
{
    memset(r, 0, sizeof *r);
    r->slots = calloc((size_t)cap, sizeof *r->slots);
    if (!r->slots) return WM_ERR_OUT_OF_MEMORY;
    r->cap = cap; r->width = w; r->height = h;
    for (int i = 0; i < cap; i++)
        if (!(r->slots[i].rgb = malloc((size_t)w * h * 3))) { wm_ring_free(r); return WM_ERR_OUT_OF_MEMORY; }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->space, NULL);
    return WM_OK;
}

void wm_ring_free(wm_ring *r)
{
    if (!r->slots) return;
    for (int i = 0; i < r->cap; i++) free(r->slots[i].rgb);
    free(r->slots);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->space);
    memset(r, 0, sizeof *r);
}

int wm_ring_wait_space(wm_ring *r, int n) { return wm_ring_wait_ready(r, n, r->cap); }

int wm_ring_wait_ready(wm_ring *r, int n, int max_depth)
{
    if (n > r->cap) n = r->cap;
    if (max_depth < 0) max_depth = 0;
    pthread_mutex_lock(&r->mu);
    while (!r->quit && (r->cap - r->count < n || r->count > max_depth)) pthread_cond_wait(&r->space, &r->mu);
    int ok = !r->quit;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

void wm_ring_push(wm_ring *r, const uint8_t *rgb, const wm_pose *pose, int64_t frame, int64_t chunk, int in_chunk,
                  double input_t)
{
    /* Only the generator adds, so the free slot found under the lock stays free during the copy. */
    pthread_mutex_lock(&r->mu);
    if (r->count >= r->cap) { pthread_mutex_unlock(&r->mu); return; }
    wm_ring_slot *s = &r->slots[(r->head + r->count) % r->cap];
    pthread_mutex_unlock(&r->mu);
    memcpy(s->rgb, rgb, (size_t)r->width * r->height * 3);
    s->pose = *pose;
    s->frame_index = frame;
    s->chunk_index = chunk;
    s->frame_in_chunk = in_chunk;
    s->input_t = input_t;
    pthread_mutex_lock(&r->mu);
    r->count++;
    pthread_mutex_unlock(&r->mu);
}

int wm_ring_pop(wm_ring *r, int max, wm_ring_slot *out)
{
    pthread_mutex_lock(&r->mu);
    int n = r->count < max ? r->count : max;
    pthread_mutex_unlock(&r->mu);
    if (n == 0) return 0;
    /* The popped slots are not reused until count drops below, so copy outside the lock. */
    const wm_ring_slot *s = &r->slots[(r->head + n - 1) % r->cap];
    memcpy(out->rgb, s->rgb, (size_t)r->width * r->height * 3);
    out->pose = s->pose;
    out->frame_index = s->frame_index;
    out->chunk_index = s->chunk_index;
    out->frame_in_chunk = s->frame_in_chunk;
    out->input_t = s->input_t;
    pthread_mutex_lock(&r->mu);
    r->head = (r->head + n) % r->cap;
    r->count -= n;
    pthread_cond_signal(&r->space);
    pthread_mutex_unlock(&r->mu);
    return n;
}

int wm_ring_depth(wm_ring *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->count;
    pthread_mutex_unlock(&r->mu);
    return n;
}

void wm_ring_put_action(wm_ring *r, const wm_action *a, double t)
{
    pthread_mutex_lock(&r->mu);
    if (r->n_actions == WM_ACTION_QUEUE) { /* keep the newest: inputs older than the queue are stale */
        memmove(r->actions, r->actions + 1, (WM_ACTION_QUEUE - 1) * sizeof *r->actions);
        memmove(r->action_t, r->action_t + 1, (WM_ACTION_QUEUE - 1) * sizeof *r->action_t);
        r->n_actions--;
    }
    r->action_t[r->n_actions] = t;
    r->actions[r->n_actions++] = *a;
    pthread_mutex_unlock(&r->mu);
}

int wm_ring_take_actions(wm_ring *r, wm_action *out, double *t_out, int n)
{
    pthread_mutex_lock(&r->mu);
    int skip = r->n_actions > n ? r->n_actions - n : 0; /* most recent n */
    int k = r->n_actions - skip;
    memcpy(out, r->actions + skip, (size_t)k * sizeof *out);
    if (t_out) memcpy(t_out, r->action_t + skip, (size_t)k * sizeof *t_out);
    r->n_actions = 0;
    pthread_mutex_unlock(&r->mu);
    return k;
}

void wm_ring_quit(wm_ring *r)
{
    pthread_mutex_lock(&r->mu);
    r->quit = 1;
    pthread_cond_broadcast(&r->space);
    pthread_mutex_unlock(&r->mu);
}
