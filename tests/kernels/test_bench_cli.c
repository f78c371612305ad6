/* `wm bench` argument contract (runs everywhere, no GPU needed): --help prints usage and exits 0, no or
 * unknown benchmark / unknown or invalid options exit 2 with a message, and a benchmark that needs a GPU
 * exits 1 with a message when the program has no CUDA backend (this test links none). */
#include "testing.h"

#include <string.h>

int wm_cmd_bench(int argc, char **argv);

static int run(int argc, const char *const *argv)
{
    char *v[8];
    for (int i = 0; i < argc && i < 8; i++) v[i] = (char *)argv[i];
    fflush(stdout);
    return wm_cmd_bench(argc, v);
}

int main(void)
{
    const char *help[] = {"bench", "--help"}, *none[] = {"bench"}, *bad[] = {"bench", "nope"};
    const char *dit_zero[] = {"bench", "dit", "--chunks", "0"}, *dit_opt[] = {"bench", "dit", "--fast"};
    const char *vae[] = {"bench", "vae"}, *gemm[] = {"bench", "gemm"}, *dit[] = {"bench", "dit"};
    const char *ops[] = {"bench", "ops"}, *model[] = {"bench", "dit", "--model"};
    const char *prof[] = {"bench", "dit", "--model", "--profile"}, *prof_bad[] = {"bench", "dit", "--profile=1"};
    const char *vae_bad[] = {"bench", "vae", "--fast"}, *vae_size[] = {"bench", "vae", "--size", "700x1280"};
    const char *vae_fr[] = {"bench", "vae", "--frames", "0"}, *vae_it[] = {"bench", "vae", "--iters", "0"};
    const char *vae_sz2[] = {"bench", "vae", "--size", "big"}, *text[] = {"bench", "text"};
    const char *text_bad[] = {"bench", "text", "--fast"}, *text_tok[] = {"bench", "text", "--tokens", "0"};
    const char *text_opts[] = {"bench", "text", "--tokens", "77", "--iters", "3"};
    const char *vae_opts[] = {"bench", "vae", "--frames", "2", "--size", "256x320", "--iters", "3"};
    CHECK(run(2, help) == 0);
    CHECK(run(1, none) == 2);
    CHECK(run(2, bad) == 2);
    CHECK(run(4, dit_zero) == 2);
    CHECK(run(3, dit_opt) == 2);
    CHECK(run(2, vae) == 1);
    CHECK(run(2, gemm) == 1);  /* no CUDA backend in this program: message, exit 1 */
    CHECK(run(2, ops) == 1);
    CHECK(run(2, dit) == 1);
    CHECK(run(3, model) == 1);
    CHECK(run(4, prof) == 1);     /* a valid option: the missing GPU is what fails */
    CHECK(run(3, prof_bad) == 2);
    CHECK(run(3, vae_bad) == 2);   /* unknown option */
    CHECK(run(4, vae_size) == 2);  /* not a multiple of 32 */
    CHECK(run(4, vae_fr) == 2);
    CHECK(run(4, vae_it) == 2);
    CHECK(run(4, vae_sz2) == 2);
    CHECK(run(8, vae_opts) == 1);  /* valid options, no GPU: exit 1 */
    CHECK(run(2, text) == 1);
    CHECK(run(3, text_bad) == 2);
    CHECK(run(4, text_tok) == 2);
    CHECK(run(6, text_opts) == 1);
    TEST_MAIN_END();
}
