/* model.c -- wm_model: load the DiT, the causal VAE and (optionally) the Gemma-2 text encoder once.
 *
 * Layout of a checkpoint root (the Hugging Face repos, spec §1.1; docs/pipeline.md): the DiT in
 * sana_dit/ (streaming repo: model.pt), dit/ (bidirectional repos: *.safetensors) or the root itself;
 * optional config.yaml at the root; the VAE in ltx2_causal_vae/ or vae/ (config.json + safetensors);
 * the text encoder in text_encoder/ or gemma-2-2b-it/ (optional). The DiT config comes from the
 * checkpoint's names and shapes (config.yaml first when present, the checkpoint wins), the latent grid
 * from the requested frame size. Everything is validated against everything else (latent channels,
 * frame size vs VAE ratio, caption width vs text encoder) before a session can exist.
 */
#include "wm/session/session_internal.h"

#include "wm/io/dit_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* First existing child folder of root among names (NULL-terminated) into out; 0 if none. */
static int child_dir(const char *root, const char *const *names, char *out, size_t cap)
{
    for (int i = 0; names[i]; i++) {
        snprintf(out, cap, "%s/%s", root, names[i]);
        if (is_dir(out)) return 1;
    }
    return 0;
}

static wm_status load_dit(wm_model *m, const wm_model_params *p, wm_error *err)
{
    static const char *const dit_dirs[] = {"sana_dit", "dit", NULL};
    char dpath[WM_SESSION_PATH], ypath[WM_SESSION_PATH];
    int root = is_dir(p->path);
    if (!root && !is_file(p->path)) return wm__errf(err, WM_ERR_NOT_FOUND, "%s: no such model file or directory", p->path);
    if (!root || !child_dir(p->path, dit_dirs, dpath, sizeof dpath)) snprintf(dpath, sizeof dpath, "%s", p->path);
    wm_checkpoint *ck = NULL;
    WM_TRY(wm_checkpoint_open(dpath, &ck, err));
    wm_dit_config cfg = wm_dit_config_default();
    wm_status st = WM_OK;
    snprintf(ypath, sizeof ypath, "%s/config.yaml", p->path);
    if (root && is_file(ypath)) st = wm_dit_config_from_yaml(ypath, &cfg, err);
    if (st == WM_OK) st = wm_dit_config_from_checkpoint(ck, &cfg, err);
    if (st == WM_OK) {
        cfg.latent_h = m->height / m->ratio;
        cfg.latent_w = m->width / m->ratio;
        wm_dit_weights_params wp = {0};
        wp.be = m->be;
        st = wm_dit_weights_load_on(ck, &cfg, &wp, &m->dit, err);
    }
    wm_checkpoint_close(ck); /* the weights are copies on the backend's device */
    if (st == WM_OK) m->cfg = cfg;
    return st;
}

static wm_status load_vae(wm_model *m, const wm_model_params *p, wm_error *err)
{
    static const char *const vae_dirs[] = {"ltx2_causal_vae", "vae", NULL};
    char vpath[WM_SESSION_PATH];
    if (p->vae_path) snprintf(vpath, sizeof vpath, "%s", p->vae_path);
    else if (!is_dir(p->path) || !child_dir(p->path, vae_dirs, vpath, sizeof vpath))
        return wm__errf(err, WM_ERR_NOT_FOUND, "%s: no VAE folder (ltx2_causal_vae/ or vae/ with config.json)", p->path);
    /* bf16 weights and activations on CUDA, like the DiT: a steady-state chunk decodes in ~70 ms on tensor
     * cores (docs/perf.md); fp32 stays the CPU format and the parity reference. */
    wm_vae_load_params lp = {WM_F32, WM_F32};
    if (m->be->kind == WM_BACKEND_CUDA) lp.weight_dtype = lp.act_dtype = WM_BF16;
    WM_TRY(wm_vae_load(vpath, m->be, &lp, &m->vae, err));
    const wm_vae_config *vc = wm_vae_get_config(m->vae);
    if (!vc->decoder_causal)
        return wm__errf(err, WM_ERR_UNSUPPORTED, "%s: decoder_causal is false; streaming needs the causal VAE (ltx2_causal_vae)", vpath);
    return WM_OK;
}

static wm_status load_text(wm_model *m, const wm_model_params *p, wm_error *err)
{
    static const char *const text_dirs[] = {"text_encoder", "gemma-2-2b-it", NULL};
    char tpath[WM_SESSION_PATH];
    if (p->no_text) return WM_OK;
    if (p->text_path) snprintf(tpath, sizeof tpath, "%s", p->text_path);
    else if (!is_dir(p->path) || !child_dir(p->path, text_dirs, tpath, sizeof tpath)) {
        wm__log(WM_LOG_INFO, "%s: no text encoder folder; prompts must be given as embeddings", p->path);
        return WM_OK;
    }
    /* text_encoder/ under the root: hand the root over so tokenizer/ next to it is found too */
    if (!p->text_path && strstr(tpath, "/text_encoder")) snprintf(tpath, sizeof tpath, "%s", p->path);
    wm_text_params tp = {0};
    tp.max_length = m->cfg.caption_length;
    /* On the model's backend: on CUDA a prompt encodes in ~5 ms in bf16 (what the official pipeline runs),
     * where the CPU needs tens of seconds for the 2.6B encoder. */
    WM_TRY(wm_text_encoder_load(m->be, tpath, &tp, &m->text, err));
    WM_TRY(wm_prompt_cache_create(16, &m->prompts));
    return WM_OK;
}

static wm_status check_model(wm_model *m, wm_error *err)
{
    const wm_vae_config *vc = wm_vae_get_config(m->vae);
    const wm_dit_config *c = &m->cfg;
    if (vc->latent_channels != c->in_channels || c->in_channels != c->out_channels)
        return wm__errf(err, WM_ERR_SHAPE, "model: DiT in/out channels %d/%d but the VAE has %d latent channels",
                        c->in_channels, c->out_channels, vc->latent_channels);
    if (wm_vae_temporal_ratio(vc) != c->vae_stride_t || c->plucker_channels != 6 * c->vae_stride_t)
        return wm__errf(err, WM_ERR_SHAPE, "model: VAE temporal ratio %d, DiT expects %d (Plücker channels %d)",
                        wm_vae_temporal_ratio(vc), c->vae_stride_t, c->plucker_channels);
    if (c->chunk_size < 1 || 1 + c->chunk_size > WM_DIT_MAX_CHUNK_FRAMES)
        return wm__errf(err, WM_ERR_SHAPE, "model: chunk size %d unsupported", c->chunk_size);
    return WM_OK;
}

/* The CPU backend always (fallback); CUDA for the DiT, VAE and text encoder when asked or available. */
static wm_status make_backends(wm_model *m, const wm_model_params *p, wm_error *err)
{
    wm_backend_params bp = wm_backend_default_params();
    bp.n_threads = p->n_threads;
    WM_TRY(wm_backend_create(WM_BACKEND_CPU, &bp, &m->cpu, err));
    m->be = m->cpu;
    if (p->backend == WM_MODEL_CPU) return WM_OK;
    wm_error e2 = {0};
    wm_backend *cuda = NULL;
    wm_status st = wm_backend_create(WM_BACKEND_CUDA, &bp, &cuda, &e2);
    if (st == WM_OK) {
        m->be = cuda;
        return WM_OK;
    }
    if (p->backend == WM_MODEL_CUDA) return wm__errf(err, st, "model: %s", e2.msg);
    wm__log(WM_LOG_INFO, "model: running on the CPU (%s)", e2.msg);
    return WM_OK;
}

static wm_status model_init(wm_model *m, const wm_model_params *p, wm_error *err)
{
    if (!p || !p->path) return wm__errf(err, WM_ERR_INVALID_ARG, "model: no path");
    if (!is_dir(p->path) && !is_file(p->path))
        return wm__errf(err, WM_ERR_NOT_FOUND, "%s: no such model file or directory", p->path);
    m->height = p->height ? p->height : 704;
    m->width = p->width ? p->width : 1280;
    WM_TRY(make_backends(m, p, err));
    WM_TRY(load_vae(m, p, err));
    m->ratio = wm_vae_spatial_ratio(wm_vae_get_config(m->vae));
    if (m->height % m->ratio || m->width % m->ratio || m->height < m->ratio || m->width < m->ratio)
        return wm__errf(err, WM_ERR_INVALID_ARG, "model: frame size %dx%d is not a multiple of the VAE's %d pixels",
                        m->height, m->width, m->ratio);
    WM_TRY(load_dit(m, p, err));
    WM_TRY(check_model(m, err));
    return load_text(m, p, err);
}

wm_status wm_model_load(const wm_model_params *p, wm_model **out, wm_error *err)
{
    *out = NULL;
    wm_model *m = calloc(1, sizeof *m);
    if (!m) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "model: out of memory");
    wm_status st = model_init(m, p, err);
    if (st != WM_OK) {
        wm_model_free(m);
        return st;
    }
    wm__log(WM_LOG_INFO, "model %s: DiT hidden %d depth %d, latent %dx%d on %s, text encoder %s", p->path,
            m->cfg.hidden_size, m->cfg.depth, m->cfg.latent_h, m->cfg.latent_w, wm_model_backend_name(m),
            m->text ? "loaded" : "absent");
    *out = m;
    return WM_OK;
}

void wm_model_free(wm_model *m)
{
    if (!m) return;
    wm_prompt_cache_free(m->prompts);
    wm_text_encoder_free(m->text);
    wm_dit_weights_free(m->dit);
    wm_vae_free(m->vae);
    if (m->be != m->cpu) wm_backend_free(m->be);
    wm_backend_free(m->cpu);
    free(m);
}

const wm_dit_config *wm_model_dit_config(const wm_model *m) { return &m->cfg; }
int wm_model_has_text(const wm_model *m) { return m->text != NULL; }
const char *wm_model_backend_name(const wm_model *m) { return m->be->kind == WM_BACKEND_CUDA ? "cuda" : "cpu"; }
const wm_dit_weights *wm_model_dit_weights(const wm_model *m) { return m->dit; }
