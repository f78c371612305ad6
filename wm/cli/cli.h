/* Declarations shared by the `wm` subcommands. */
#ifndef WM_CLI_CLI_H
#define WM_CLI_CLI_H

#define C(name, fn, summary) int fn(int argc, char **argv);
#include "wm/cli/commands.def"
#undef C

#endif
