/* Embedding-row lookup with a scale (Gemma-2's embed[ids] * sqrt(hidden)), fp32 reference.
 * One row per work item; an id outside [0, R) yields zeros, as the CUDA kernel does (it cannot report
 * an error from the device), so both backends give the same result for the same call.
 * table (R, C), ids (T) int32, x (T, C).
 */
#include "cpu_common.h"
#include "kernels/text_shapes.h"

typedef struct { const float *table; const int32_t *ids; float *x; int64_t R, C; float scale; } embed_ctx;

static void embed_rows_items(void *p, int64_t t0, int64_t t1)
{
    const embed_ctx *c = p;
    for (int64_t t = t0; t < t1; t++) {
        int64_t id = c->ids[t];
        float *xr = c->x + t * c->C;
        const float *row = id >= 0 && id < c->R ? c->table + id * c->C : NULL;
        for (int64_t i = 0; i < c->C; i++) xr[i] = row ? row[i] * c->scale : 0.0f;
    }
}

wm_status wm_embed_rows_cpu(wm_backend *be, const wm_tensor *table, const wm_tensor *ids, float scale, wm_tensor *x)
{
    WM_CPU_F32(be, table);
    WM_CPU_F32(be, x);
    WM_OP_CHECK(be, ids->device == WM_DEVICE_CPU, WM_ERR_DTYPE, "ids must be a host tensor");
    WM_TRY(wm_embed_rows_shape(be, table, ids, x));
    embed_ctx c = {table->data, ids->data, x->data, wm_tensor_rows(table), wm_tensor_cols(table), scale};
    wm_threadpool_run(be->pool, wm_tensor_numel(ids), 8, embed_rows_items, &c);
    return WM_OK;
}
