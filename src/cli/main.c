/*
 * cli/main.c: `fkex <command> [options]`, dispatched from a table.
 */
#include "cli/cli.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    { "setup", setup_main, "create an authority: public parameters and master key" },
    { "keygen", keygen_main, "issue a user key for a set of attributes and/or an identity" },
    { "encrypt", encrypt_main, "encrypt a file under a policy" },
    { "decrypt", decrypt_main, "decrypt a file with a user key" },
    { "ibe", ibe_main, "encrypt a file to an identity (alice@example.org), decrypt it" },
    { "inspect", inspect_main, "show what an fkex file is, without its secrets" },
    { "kms", kms_main, "the key authority: init, token (one-time enrolment), serve" },
    { "enroll", enroll_main, "redeem an enrolment token for a user key" },
    { "room", room_main, "create a room, print its invitation, change its policy" },
    { "relay", relay_main, "the relay daemon: orders, stores and replays each room's messages" },
    { "chat", chat_main, "join a room and talk: --batch speaks JSON lines (for scripts)" },
    { "bench", bench_main, "measure the schemes (fkex bench abe, ibe) and the group key exchanges (gke)" },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: fkex <command> [options]\n\n"
               "fkex: functional key exchange. Files and rooms that open for what\n"
               "you are (your attributes), not who you are.\n\ncommands:\n");
    for (size_t i = 0; i < FKEX_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`fkex <command> --help` explains each. Exit codes: 0 ok; 1 the key does not\n"
               "satisfy the policy or authentication failed; 2 usage or other error.\n");
}

int main(int argc, char **argv)
{
    if (fkex_init() != FKEX_OK) {
        cli_error("libsodium failed to initialise");
        return EXIT_USAGE;
    }
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("fkex %s (BLS12-381, blst 0.3.10)\n", fkex_version());
        return 0;
    }
    for (size_t i = 0; i < FKEX_ARRAY_LEN(commands); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    cli_error("unknown command '%s'", argv[1]);
    cli_hint("run `fkex --help` for the list of commands");
    return EXIT_USAGE;
}
