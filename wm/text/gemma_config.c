/* Gemma-2 config.json reader (jansson). Keys follow transformers' Gemma2Config; absent keys keep the
 * Gemma-2-2B values, present ones are range-checked, and an activation other than tanh-GELU is refused
 * (the forward hard-codes GeGLU with gelu_pytorch_tanh, the only one Gemma-2 uses).
 */
#include "wm/text/gemma.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

wm_gemma_config wm_gemma_config_2b(void)
{
    return (wm_gemma_config){.vocab_size = 256000, .hidden = 2304, .n_layers = 26, .n_heads = 8, .n_kv_heads = 4,
                             .head_dim = 256, .ffn = 9216, .sliding_window = 4096, .eps = 1e-6f,
                             .rope_theta = 10000.0f, .query_scale = 0.0625f, .attn_softcap = 50.0f};
}

static wm_status get_int(json_t *root, const char *path, const char *key, int lo, int hi, int *v, wm_error *err)
{
    json_t *j = json_object_get(root, key);
    if (!j || json_is_null(j)) return WM_OK;
    if (!json_is_integer(j) || json_integer_value(j) < lo || json_integer_value(j) > hi)
        return wm__errf(err, WM_ERR_FORMAT, "%s: '%s' must be an integer in [%d, %d]", path, key, lo, hi);
    *v = (int)json_integer_value(j);
    return WM_OK;
}

static wm_status get_num(json_t *root, const char *path, const char *key, double lo, double hi, double *v,
                         wm_error *err)
{
    json_t *j = json_object_get(root, key);
    if (!j || json_is_null(j)) return WM_OK;
    if (!json_is_number(j) || json_number_value(j) < lo || json_number_value(j) > hi)
        return wm__errf(err, WM_ERR_FORMAT, "%s: '%s' must be a number in [%g, %g]", path, key, lo, hi);
    *v = json_number_value(j);
    return WM_OK;
}

static wm_status check_activation(json_t *root, const char *path, wm_error *err)
{
    const char *keys[2] = {"hidden_activation", "hidden_act"};
    for (int i = 0; i < 2; i++) {
        const char *a = json_string_value(json_object_get(root, keys[i]));
        if (a && strcmp(a, "gelu_pytorch_tanh") && strcmp(a, "gelu_tanh"))
            return wm__errf(err, WM_ERR_UNSUPPORTED, "%s: %s '%s' is not supported (Gemma-2 uses gelu_pytorch_tanh)",
                            path, keys[i], a);
    }
    return WM_OK;
}

wm_status wm_gemma_config_load(const char *path, wm_gemma_config *cfg, wm_error *err)
{
    *cfg = wm_gemma_config_2b();
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return wm__errf(err, je.line > 0 ? WM_ERR_FORMAT : WM_ERR_NOT_FOUND, "%s:%d: %s", path, je.line, je.text);
    const int big = 1 << 24;
    double eps = cfg->eps, theta = cfg->rope_theta, qpas = 1.0 / ((double)cfg->query_scale * cfg->query_scale),
           cap = cfg->attn_softcap;
    int head_dim = -1;
    wm_status st = WM_OK;
    if (!json_is_object(root)) st = wm__errf(err, WM_ERR_FORMAT, "%s: not a JSON object", path);
    if (st == WM_OK) st = get_int(root, path, "vocab_size", 1, big, &cfg->vocab_size, err);
    if (st == WM_OK) st = get_int(root, path, "hidden_size", 2, 65536, &cfg->hidden, err);
    if (st == WM_OK) st = get_int(root, path, "num_hidden_layers", 1, 1024, &cfg->n_layers, err);
    if (st == WM_OK) st = get_int(root, path, "num_attention_heads", 1, 1024, &cfg->n_heads, err);
    if (st == WM_OK) st = get_int(root, path, "num_key_value_heads", 1, 1024, &cfg->n_kv_heads, err);
    if (st == WM_OK) st = get_int(root, path, "head_dim", 2, 512, &head_dim, err);
    if (st == WM_OK) st = get_int(root, path, "intermediate_size", 1, big, &cfg->ffn, err);
    if (st == WM_OK) st = get_int(root, path, "sliding_window", 0, big, &cfg->sliding_window, err);
    if (st == WM_OK) st = get_num(root, path, "rms_norm_eps", 0, 1, &eps, err);
    if (st == WM_OK) st = get_num(root, path, "rope_theta", 1, 1e12, &theta, err);
    if (st == WM_OK) st = get_num(root, path, "query_pre_attn_scalar", 1e-6, 1e9, &qpas, err);
    if (st == WM_OK) st = get_num(root, path, "attn_logit_softcapping", 0, 1e9, &cap, err);
    if (st == WM_OK) st = check_activation(root, path, err);
    /* null means "off" for these two in Gemma2Config, not "default" */
    if (st == WM_OK && json_is_null(json_object_get(root, "attn_logit_softcapping"))) cap = 0;
    if (st == WM_OK && json_is_null(json_object_get(root, "sliding_window"))) cfg->sliding_window = 0;
    json_decref(root);
    if (st != WM_OK) return st;
    cfg->head_dim = head_dim > 0 ? head_dim : cfg->hidden / cfg->n_heads;
    cfg->eps = (float)eps;
    cfg->rope_theta = (float)theta;
    cfg->query_scale = (float)(1.0 / sqrt(qpas));
    cfg->attn_softcap = (float)cap;
    if (cfg->n_heads % cfg->n_kv_heads || cfg->head_dim % 2)
        return wm__errf(err, WM_ERR_FORMAT, "%s: %d heads do not group over %d kv heads of even size %d", path,
                        cfg->n_heads, cfg->n_kv_heads, cfg->head_dim);
    return WM_OK;
}
