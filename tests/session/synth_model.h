/* synth_model.h -- a tiny random-weight SANA-WM checkpoint set for pipeline tests (header-only).
 *
 * Writes into dir: model.safetensors (the DiT at the small golden config: hidden 224, 2 heads x 112,
 * depth 2 [GDN, softmax], MLP 448, 16 latent channels to match the VAE, 64 caption channels, caption
 * length 16), vae/ (the golden tiny LTX-2 VAE: config.json + weights, 16 latent channels, ratio 32),
 * and with text = 1 text_encoder/ (the golden tiny Gemma-2, hidden 64) + tokenizer/ (the golden small
 * tokenizer), all as symlinks into tests/golden. Weights are uniform in +-1/sqrt(fan_in) (norm weights
 * 1 + noise, biases and tables small), enough for finite, seed-dependent frames. Tests run from the
 * source root (wm_add_test's working directory).
 */
#ifndef WM_TESTS_SYNTH_MODEL_H
#define WM_TESTS_SYNTH_MODEL_H

#include "testing.h"
#include "wm/io/checkpoint.h"
#include "wm/io/dit_io.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct synth_keys {
    wm_st_item items[256];
    char names[256][160];
    float *bufs[256];
    int n;
    t_rng rng;
} synth_keys;

static void synth_key(void *ctx, const wm_dit_key *k)
{
    synth_keys *s = ctx;
    if (k->optional || k->ndim < 1 || s->n >= 256) return;
    int64_t n = 1;
    for (int i = 0; i < k->ndim; i++) n *= k->shape[i];
    float *b = malloc((size_t)n * 4);
    int norm = strstr(k->name, "norm") != NULL, is_1d = k->ndim == 1;
    float a = is_1d ? 0.05f : 1.0f / sqrtf((float)(n / k->shape[0]));
    if (strstr(k->name, "scale_shift_table")) a = 0.1f;
    for (int64_t i = 0; i < n; i++) b[i] = (norm ? 1.0f : 0.0f) + a * (2.0f * t_rng_uniform(&s->rng) - 1.0f);
    if (strstr(k->name, "A_log")) for (int64_t i = 0; i < n; i++) b[i] = -1.0f + 0.5f * t_rng_uniform(&s->rng);
    snprintf(s->names[s->n], sizeof s->names[0], "%s", k->name);
    wm_st_item *it = &s->items[s->n];
    it->name = s->names[s->n], it->dtype = WM_F32, it->ndim = k->ndim, it->data = b;
    memcpy(it->shape, k->shape, sizeof it->shape);
    s->bufs[s->n++] = b;
}

static inline wm_dit_config synth_dit_config(void)
{
    wm_dit_config c = wm_dit_config_default();
    c.hidden_size = 224, c.depth = 2, c.num_heads = 2, c.mlp_hidden = 448;
    c.in_channels = c.out_channels = 16, c.caption_channels = 64, c.caption_length = 16;
    c.latent_h = 2, c.latent_w = 3;
    wm_dit_config_set_softmax_every(&c, 2);
    return c;
}

static int synth_link(const char *target_rel, const char *link)
{
    char abs[PATH_MAX];
    if (!realpath(target_rel, abs)) { fprintf(stderr, "synth: no %s\n", target_rel); return 0; }
    return symlink(abs, link) == 0;
}

/* Write the set into dir (created). Returns 1 on success. */
static int synth_model_write(const char *dir, int text, uint64_t seed)
{
    char p[PATH_MAX];
    mkdir(dir, 0755);
    wm_dit_config c = synth_dit_config();
    synth_keys *k = calloc(1, sizeof *k);
    k->rng.s = seed | 1;
    wm_dit_expected_keys(&c, synth_key, k);
    wm_error err = {0};
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    int ok = wm_safetensors_write(p, k->items, k->n, NULL, &err) == WM_OK;
    if (!ok) fprintf(stderr, "synth: %s\n", err.msg);
    for (int i = 0; i < k->n; i++) free(k->bufs[i]);
    free(k);
    snprintf(p, sizeof p, "%s/vae", dir);
    ok = ok && mkdir(p, 0755) == 0;
    snprintf(p, sizeof p, "%s/vae/config.json", dir);
    ok = ok && synth_link("tests/golden/vae/config.json", p);
    snprintf(p, sizeof p, "%s/vae/diffusion_pytorch_model.safetensors", dir);
    ok = ok && synth_link("tests/golden/vae/weights.safetensors", p);
    if (text) {
        snprintf(p, sizeof p, "%s/text_encoder", dir);
        ok = ok && synth_link("tests/golden/text/gemma_small", p);
        snprintf(p, sizeof p, "%s/tokenizer", dir);
        ok = ok && mkdir(p, 0755) == 0;
        snprintf(p, sizeof p, "%s/tokenizer/tokenizer.json", dir);
        ok = ok && synth_link("tests/golden/text/tokenizer.json", p);
    }
    return ok;
}

/* A smooth synthetic start image (h, w, 3) that is not the frame size (exercises resize + crop). */
static inline unsigned char *synth_image(int h, int w)
{
    unsigned char *img = malloc((size_t)h * w * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *q = img + ((size_t)y * w + x) * 3;
            q[0] = (unsigned char)(255 * x / w), q[1] = (unsigned char)(255 * y / h), q[2] = (unsigned char)((x * y) & 255);
        }
    return img;
}

#endif
