/* Stage-1 DiT weights on a backend's device, loaded by the official key names (spec §6.2, §6.3).
 *
 * The loader reads every key the forward uses from a wm_checkpoint (bf16/f16/f32 files alike, read as
 * fp32 one tensor at a time into a host scratch), checks each stored shape against the config exactly,
 * and fails with a message naming the key. Two weight families, each ONE allocation on the device planned
 * from the shapes and carved: GEMM weights and biases in the backend's activation dtype (fp32 CPU, bf16
 * CUDA: wm_dit_act_dtype) and everything else fp32 (norm weights, adaLN tables, A_log/dt_bias, short-conv
 * and depthwise taps). wm_dit_weights_random fills the same layout with seeded random values for
 * benchmarks, generated per tensor on the host with no full-model host copy. Weights are stored in the layouts the ops want: Linear/1x1-conv weights as (out, in) matrices,
 * short convs (C, K), depthwise 3x3 (2M, 9), and t_conv re-laid out as one (C, 3C) GEMM weight whose
 * column block j holds the tap applied to frame t-1+j. Unused checkpoint entries (raymap_embedder,
 * y_embedding, recall_gate, pos_embed) are ignored.
 */
#ifndef WM_DIT_WEIGHTS_H
#define WM_DIT_WEIGHTS_H

#include "wm/dit/config.h"
#include "wm/core/backend.h"
#include "wm/io/checkpoint.h"

typedef struct wm_dit_block_weights {
    wm_tensor sst;                                 /* (6, C) */
    wm_tensor qkv;                                 /* (3C, C), no bias */
    wm_tensor q_norm, k_norm;                      /* (C) */
    wm_tensor conv_k, conv_k_cam;                  /* (C, K), GDN blocks only */
    wm_tensor beta_w, beta_b, gate_w, gate_b;      /* (H, C), (H) */
    wm_tensor A_log, dt_bias;                      /* (H) */
    wm_tensor og_w, og_b, proj_w, proj_b;          /* output gate (view of gqkvc_w/_b), proj */
    wm_tensor qc_w, qc_b, kc_w, kc_b, vc_w, vc_b;  /* camera projections: views of qkvc_w / qkvc_b */
    wm_tensor qkvc_w, qkvc_b;                      /* (3C, C), (3C): q|k|v_proj_cam, rows C..4C of gqkvc */
    wm_tensor gqkvc_w, gqkvc_b;                    /* (4C, C), (4C): output_gate|q|k|v_proj_cam in one buffer:
                                                    * the four GEMMs on the block's adaLN output as one call */
    wm_tensor oc_w, oc_b;                          /* out_proj_cam */
    wm_tensor q_norm_cam, k_norm_cam;              /* (C) */
    wm_tensor pp_w, pp_b;                          /* plucker_proj */
    wm_tensor pk_w, pk_b;                          /* derived: pp_w plk_w (C, 48), pp_w plk_b + pp_b (C) */
    wm_tensor ca_q_w, ca_q_b, ca_kv_w, ca_kv_b;    /* cross-attention q (C,C), kv (2C,C) */
    wm_tensor ca_q_norm, ca_k_norm, ca_proj_w, ca_proj_b;
    wm_tensor inv_w, inv_b;                        /* inverted_conv (2M, C), (2M) */
    wm_tensor dw_w, dw_b;                          /* depth_conv (2M, 9), (2M) */
    wm_tensor pt_w;                                /* point_conv (C, M), no bias */
    wm_tensor tconv_w;                             /* (C, 3C): [W_{t-1} | W_t | W_{t+1}] */
    /* Derived (GDN blocks): k_norm / k_norm_cam weights times the key scale (D*S)^-1/2 (spec §3.1
     * step 5); ReLU commutes with a positive scale, so RMSNorm + ReLU gives the scaled key directly. */
    wm_tensor k_norm_s, k_norm_cam_s;
} wm_dit_block_weights;

typedef struct wm_dit_weights {
    wm_dit_config cfg;
    wm_tensor x_w, x_b;          /* x_embedder (C, in), (C) */
    wm_tensor plk_w, plk_b;      /* plucker_embedder (C, 48), (C) */
    wm_tensor t0_w, t0_b;        /* t_embedder.mlp.0 (C, freq_dim) */
    wm_tensor t2_w, t2_b;        /* t_embedder.mlp.2 (C, C) */
    wm_tensor tb_w, tb_b;        /* t_block.1 (6C, C) */
    wm_tensor y1_w, y1_b;        /* y_embedder.y_proj.fc1 (C, caption_channels) */
    wm_tensor y2_w, y2_b;        /* fc2 (C, C) */
    wm_tensor y_norm;            /* attention_y_norm (C) */
    wm_tensor fin_w, fin_b;      /* final_layer.linear (out, C) */
    wm_tensor fin_sst;           /* final_layer.scale_shift_table (2, C) */
    wm_dit_block_weights *blocks; /* depth entries */
    wm_device device;            /* where the tensors live */
    wm_backend *be;              /* owner of mem[] (NULL: host memory) */
    void *mem[2];                /* family allocations: [0] GEMM weights/biases, [1] fp32 small weights */
    size_t mem_bytes[2];
    int unfused;                 /* WM_DIT_UNFUSE_* bits: fusions to turn off (0 = all fused, the default). Set
                                  * at load from the environment, read once there: WM_DIT_UNFUSED=1 or "all"
                                  * = every bit, or a comma list of qk,add,gate,dw,window,qkv,ln,scan,plk,trim,batch,ucpe; a caller may flip
                                  * bits between forwards (plan with the same value). */
} wm_dit_weights;

/* Fusions of the forward, each with its unfused op sequence kept (docs/cuda.md "Fused DiT ops"). */
enum {
    WM_DIT_UNFUSE_QK = 1,     /* dit_qk_prep -> rmsnorm, activate, convert, ucpe_apply, rope_apply */
    WM_DIT_UNFUSE_ADD = 2,    /* matmul_add -> matmul + gated_add */
    WM_DIT_UNFUSE_GATE = 4,   /* mul_silu -> SiLU GEMM + mul */
    WM_DIT_UNFUSE_DW = 8,     /* depthwise3x3_silu_glu -> SiLU GEMM + depthwise3x3_glu */
    WM_DIT_UNFUSE_WINDOW = 16, /* streaming K/V written in place in the window buffer -> window copies */
    WM_DIT_UNFUSE_QKV = 32,   /* matmul_batched over q|k|v weights -> three matmul calls */
    WM_DIT_UNFUSE_LN = 64,    /* gated_add_ln_mod at block boundaries -> gated_add + layernorm_modulate */
    WM_DIT_UNFUSE_SCAN = 128, /* gdn_scan_fr (forward + reverse in one call) -> two gdn_scan calls */
    WM_DIT_UNFUSE_PLK = 256,  /* Plücker injection through the folded 48 -> C weight -> embedder + plucker_proj */
    WM_DIT_UNFUSE_TRIM = 512, /* a save pass without velocity stops the last block after its caches -> whole block */
    WM_DIT_UNFUSE_BATCH = 1024, /* output gate|camera q|k|v as one batched GEMM, streaming K|V (and camera K|V)
                                 * batched into their window buffers -> one GEMM per projection */
    WM_DIT_UNFUSE_UCPE = 2048,  /* GDN camera readout with its inverse embedding before the store
                                 * (gdn_output_ucpe) -> gdn_output + an in-place dit_qk_prep */
    WM_DIT_UNFUSE_ALL = 4095
};
/* WM_DIT_UNFUSE_* bits of a WM_DIT_UNFUSED value ("1"/"all", or a comma list; NULL/"" -> 0). */
int wm_dit_unfuse_parse(const char *s);

/* Where and how weights are placed. {0}: host memory, fp32 (= the CPU backend). */
typedef struct wm_dit_weights_params {
    wm_backend *be;  /* device and dtypes of this backend; NULL = host fp32 */
    int round_bf16;  /* fp32 families: round GEMM weights/biases to bf16 values (the CUDA precision, testable
                      * on the CPU) */
} wm_dit_weights_params;

/* Load every tensor the forward needs; on failure err names the key and nothing is leaked.
 * ck == NULL gives shapes only (see wm_dit_weights_shapes). */
wm_status wm_dit_weights_load(const wm_checkpoint *ck, const wm_dit_config *cfg, wm_dit_weights **out,
                              wm_error *err);
/* The same onto p's backend (p NULL: host fp32). */
wm_status wm_dit_weights_load_on(const wm_checkpoint *ck, const wm_dit_config *cfg, const wm_dit_weights_params *p,
                                 wm_dit_weights **out, wm_error *err);
/* Seeded random weights in the loaded layout (no checkpoint): GEMM weights U(±√3·0.5/√fan_in), biases and
 * adaLN tables small, norm weights ≈ 1, A_log/dt_bias/conv taps O(0.3). Deterministic for a seed whatever
 * the thread count. For benchmarks (wm_dit_bench) and tests. */
wm_status wm_dit_weights_random(const wm_dit_config *cfg, uint64_t seed, const wm_dit_weights_params *p,
                                wm_dit_weights **out, wm_error *err);
void wm_dit_weights_free(wm_dit_weights *w);
/* Shapes only (every tensor header, no data): enough for wm_dit_plan, e.g. to size the arena of the
 * 2.66B model before its weights are read. */
wm_status wm_dit_weights_shapes(const wm_dit_config *cfg, wm_dit_weights **out, wm_error *err);

#endif
