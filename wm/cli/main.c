/* wm: the command-line front end. Dispatches `wm <subcommand> [args]` to one function per subcommand
 * (wm/cli/commands.def); each subcommand parses its own arguments and returns the process exit code.
 * With no arguments it runs the default job (the explorer on the embedded default world), so that the
 * README's "set up and run" command has a single thing to start. */
#include "wm/cli/cli.h"
#include "wm/wm.h"

#include <stdio.h>
#include <string.h>

typedef struct { const char *name; int (*fn)(int, char **); const char *summary; } wm_command;

static const wm_command k_commands[] = {
#define C(name, fn, summary) {#name, fn, summary},
#include "wm/cli/commands.def"
#undef C
};

int wm_cmd_version(int argc, char **argv)
{
    (void)argc; (void)argv;
    printf("wm %s\n", wm_version());
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: wm <command> [options]   (wm <command> --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        fprintf(f, "  %-14s %s\n", k_commands[i].name, k_commands[i].summary);
}

static const wm_command *find(const char *name)
{
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        if (strcmp(k_commands[i].name, name) == 0) return &k_commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        /* Default job: the explorer when it is built, else the usage text. */
        const wm_command *def = find("explore");
        if (def) { char *args[] = {"explore", NULL}; return def->fn(1, args); }
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) return wm_cmd_version(0, NULL);
    const wm_command *c = find(argv[1]);
    if (!c) {
        fprintf(stderr, "wm: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    return c->fn(argc - 1, argv + 1);
}
