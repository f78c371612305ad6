/* wmbench: `wm bench` without the rest of the CLI, for the standalone device build (CMakeLists.txt here).
 * wmbench gemm  ==  wm bench gemm. */
int wm_cmd_bench(int argc, char **argv);

int main(int argc, char **argv) { return wm_cmd_bench(argc, argv); }
