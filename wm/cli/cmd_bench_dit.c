/* `wm bench dit`: the stage-1 DiT streaming chunk on CUDA (placeholder until the DiT ops run on CUDA). */
#include "wm/cli/bench.h"

#include <stdio.h>

int wm_bench_dit(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "wm bench dit: not available yet: the DiT ops have no CUDA implementation\n");
    return 1;
}
