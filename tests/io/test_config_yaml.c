/* config.yaml -> wm_dit_config: the official layout gives the released config, fields change the
 * derived values (heads from linear_head_dim, MLP width from mlp_ratio, depth/hidden from the model
 * name), absent fields keep defaults, unknown keys are ignored, and bad files (root not a mapping,
 * wrong-typed or quoted numbers, head dim not dividing the width, syntax errors) fail with the file,
 * line and field named, leaving the config untouched. */
#include "testing.h"
#include "wm/io/dit_io.h"

#include <string.h>

static int same_config(const wm_dit_config *a, const wm_dit_config *b) { return memcmp(a, b, sizeof *a) == 0; }

static wm_status parse(const char *text, wm_dit_config *c, wm_error *err)
{
    *c = wm_dit_config_default();
    return wm_dit_config_from_yaml_mem(text, strlen(text), "t.yaml", c, err);
}

static void expect_error(const char *text, const char *needle1, const char *needle2)
{
    wm_dit_config c;
    wm_error err = {0};
    wm_dit_config def = wm_dit_config_default();
    wm_status st = parse(text, &c, &err);
    CHECK_MSG(st != WM_OK && strstr(err.msg, "t.yaml") && strstr(err.msg, needle1) && strstr(err.msg, needle2),
              "want error with '%s' and '%s', got %d '%s'", needle1, needle2, st, err.msg);
    CHECK(same_config(&c, &def));
    printf("rejected: %s\n", err.msg);
}

int main(void)
{
    wm_error err = {0};
    wm_dit_config def = wm_dit_config_default(), c = def;
    CHECK_MSG(wm_dit_config_from_yaml("tests/io/data/sana_wm_1600m_720p.yaml", &c, &err) == WM_OK, "%s", err.msg);
    CHECK_MSG(same_config(&c, &def), "official layout does not reproduce the released defaults");

    CHECK(parse("model:\n  model: SanaMSVideoCamCtrl_1600M_P1_D8\n  linear_head_dim: 56\n  mlp_ratio: 2.5\n"
                "  softmax_every_n: 2\n  chunk_size: null\n  unknown_key: [1, 2]\nvae:\n  vae_latent_dim: 64\n"
                "text_encoder:\n  model_max_length: 77\nother: 3\n", &c, &err) == WM_OK);
    CHECK(c.depth == 8 && c.hidden_size == 2240 && c.num_heads == 40 && c.mlp_hidden == 5600);
    CHECK(c.is_softmax[1] && !c.is_softmax[0] && c.is_softmax[3] && c.chunk_size == def.chunk_size);
    CHECK(c.in_channels == 64 && c.out_channels == 64 && c.caption_length == 77);
    CHECK(parse("model:\n  hidden_size: 224\n  num_heads: 2\n  depth: 20\n", &c, &err) == WM_OK &&
          c.hidden_size == 224 && c.num_heads == 2 && c.mlp_hidden == 672);
    CHECK(parse("model: {}\n", &c, &err) == WM_OK && same_config(&c, &def));

    expect_error("- model\n- vae\n", "root is a sequence", ":1:");
    expect_error("just a string\n", "root is a scalar", ":1:");
    expect_error("model:\n  linear_head_dim: abc\n", "model.linear_head_dim", ":2:");
    expect_error("model:\n  softmax_every_n: \"4\"\n", "model.softmax_every_n", "integer");
    expect_error("model:\n  qk_norm: maybe\n", "model.qk_norm", "true or false");
    expect_error("model:\n  mlp_ratio: [3]\n", "model.mlp_ratio", "number");
    expect_error("model:\n  linear_head_dim: 113\n", "model.linear_head_dim", "divide");
    expect_error("vae:\n  vae_stride: [8, x, 32]\n", "vae.vae_stride", ":2:");
    expect_error("model: [1, 2]\n", "section 'model'", "mapping");
    expect_error("model:\n  depth: 1000\n", "model.depth", "range");
    expect_error("model:\n  a: [1, 2\n", "YAML syntax error", "t.yaml");
    expect_error("", "empty YAML document", "t.yaml");
    c = def;
    CHECK(wm_dit_config_from_yaml("tests/io/data/does_not_exist.yaml", &c, &err) == WM_ERR_IO &&
          strstr(err.msg, "does_not_exist.yaml"));
    TEST_MAIN_END();
}
