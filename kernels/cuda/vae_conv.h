/* vae_conv.h -- the VAE's 3-D convolution engine on CUDA, as plain C for wm/vae and the tests.
 *
 * The op wm_vae_conv3d (kernels/ops_vae.def) keeps its stateless CUDA kernels (the "old" path: channels-
 * first implicit GEMM on bf16 tensor cores, true fp32 for fp32 tensors). The fast paths need state the
 * op table has no room for -- a cuDNN handle, per-shape algorithm choices, preallocated scratch for the
 * channels-last copies -- so they live in an engine object owned by the caller (one per wm_vae), not in
 * a global. Same semantics and arguments as the op; see kernels/cuda/vae_conv_engine.cu for the design.
 *
 * wm/vae is linked into CPU-only programs too, so it declares these symbols weak and uses the engine
 * only when they resolve (the program linked the CUDA backend) and the backend is CUDA. cuDNN itself is
 * dlopen'ed by the engine on creation, so no program loads it unless a CUDA VAE is created.
 */
#ifndef WM_KERNELS_CUDA_VAE_CONV_H
#define WM_KERNELS_CUDA_VAE_CONV_H

#include "wm/core/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Paths. AUTO = from the environment variable WM_CUDA_CONV3D (read once, at creation): "old" (the op's
 * channels-first kernel), "cudnn", "igemm" (our channels-last implicit GEMM, vae_conv_igemm.cu); unset or
 * anything else = cuDNN when it loads, else old; "best" = cuDNN, but igemm for each shape where it ran
 * faster at the first call (timed once; path() reports CUDNN). fp32 activations always take the op's true-fp32 kernel;
 * a shape a path cannot run (cuDNN refuses it, igemm needs Ci % 32 == 0 after padding to 8) takes old. */
enum { WM_VAE_CONV_AUTO = 0, WM_VAE_CONV_OLD = 1, WM_VAE_CONV_CUDNN = 2, WM_VAE_CONV_IGEMM = 3, WM_VAE_CONV_BEST = 4 };

typedef struct wm_vae_conv_engine wm_vae_conv_engine;

/* Create for a CUDA backend. A cuDNN request that cannot be met (not built in, library missing, wrong
 * version) falls back to old with a log line; wm__vae_conv_engine_path() says what is in use. */
wm_status wm__vae_conv_engine_create(wm_backend *be, int mode, wm_vae_conv_engine **out);
void wm__vae_conv_engine_free(wm_vae_conv_engine *e);
int wm__vae_conv_engine_path(const wm_vae_conv_engine *e);
/* Human-readable path, e.g. "cudnn 91900 (channels-last bf16)" or "old (channels-first kernel)". */
const char *wm__vae_conv_engine_name(const wm_vae_conv_engine *e);

/* Planning (shapes only, data may be NULL): records the scratch this conv needs and, for cuDNN, builds
 * its descriptors. reserve() then allocates the largest scratch seen, so calls of planned shapes never
 * allocate. A call of an unplanned shape still works (it grows the scratch, logged once). */
wm_status wm__vae_conv_engine_plan(wm_vae_conv_engine *e, const wm_tensor *x, const wm_tensor *w, int causal,
                                   const wm_tensor *y);
wm_status wm__vae_conv_engine_reserve(wm_vae_conv_engine *e);
/* Device bytes the engine holds (scratch + cuDNN workspace). */
size_t wm__vae_conv_engine_bytes(const wm_vae_conv_engine *e);

/* The convolution, same contract as wm_vae_conv3d (kernels/ops_vae.def); e must not be NULL. */
wm_status wm__vae_conv3d_engine(wm_vae_conv_engine *e, const wm_tensor *x, const wm_tensor *left, const wm_tensor *w,
                                const wm_tensor *bias, int causal, int reflect, wm_tensor *y);
/* Same with a post operation fused into the conv's output pass (the ResNet's):
 *   WM_VAE_CONV_POST_ACC:      y += conv (residual add; cuDNN's unpack and igemm's epilogue read y and add
 *                              in fp32; the old path adds a temporary kept in the engine's scratch);
 *   WM_VAE_CONV_POST_RMS_SILU: y = silu(conv / sqrt(mean_c conv^2 + eps)) (vae_rmsnorm_silu of the output;
 *                              cuDNN's unpack computes it from the fp32 sum before rounding; igemm and old
 *                              run the rmsnorm op after).
 * y must not alias x or left. fuses_add() says whether these save a pass for this x (bf16 on cuDNN or
 * igemm), i.e. whether a caller should prefer them to separate ops; WM_VAE_FUSE=0 (read at creation)
 * makes it say no. */
enum { WM_VAE_CONV_POST_ACC = 1, WM_VAE_CONV_POST_RMS_SILU = 2 };
wm_status wm__vae_conv3d_engine_ex(wm_vae_conv_engine *e, const wm_tensor *x, const wm_tensor *left, const wm_tensor *w,
                                   const wm_tensor *bias, int causal, int reflect, int post, float eps, wm_tensor *y);
int wm__vae_conv_engine_fuses_add(const wm_vae_conv_engine *e, const wm_tensor *x);

#ifdef __cplusplus
}
#endif
#endif
