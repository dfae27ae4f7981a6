/*
 * sim/save_integrity: intc-sim's --save-at file refuses every corruption
 * at --resume (docs/scenario.md "Save files").
 *
 *   save_check INTC_SIM SCENARIO STEP WORKDIR [all]
 *
 * Saves after STEP, checks that the file resumes (exit 0), then that each
 * of these is refused with exit 2, "intc-sim: FILE: " and a reason on
 * stderr, and nothing run: every bit of the 32-byte header flipped, 512
 * body bits spread evenly over the rest (every bit with "all"), the file
 * truncated at several lengths or one byte longer, and the version changed
 * both with and without a checksum that matches.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *sim, *scen, *work;
static char save[4096], bad[4096], errf[4096], outf[4096];
static unsigned failures, checks;

static int run(const char *resume)
{
    char arg[4200];
    pid_t pid;
    int st;

    snprintf(arg, sizeof arg, "--resume=%s", resume);
    pid = fork();
    if (pid < 0)
        return perror("fork"), exit(2), -1;
    if (pid == 0) {
        int e = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int o = open(outf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (e < 0 || o < 0 || dup2(e, 2) < 0 || dup2(o, 1) < 0)
            _exit(127);
        execl(sim, sim, "--trace=none", arg, scen, (char *)NULL);
        _exit(127);
    }
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b = malloc(1 << 24);
    size_t n = 0;

    if (!f || !b)
        return fprintf(stderr, "cannot read %s\n", path), exit(2), NULL;
    n = fread(b, 1, (1 << 24) - 1, f);
    fclose(f);
    b[n] = 0;
    *len = n;
    return b;
}

static void spit(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
        fprintf(stderr, "cannot write %s\n", path), exit(2);
}

/* bad must be refused: exit 2, "intc-sim: BAD: reason", no output. */
static void refused(const char *what)
{
    int rc = run(bad);
    size_t el, ol, pl;
    char *err = slurp(errf, &el), *out = slurp(outf, &ol), prefix[4200];

    checks++;
    pl = (size_t)snprintf(prefix, sizeof prefix, "intc-sim: %s: ", bad);
    if (rc != 2 || strncmp(err, prefix, pl) != 0 || el <= pl + 1 ||
        ol != 0) {
        if (failures++ < 20)
            fprintf(stderr, "%s: exit %d, stderr '%s', stdout %zu bytes\n",
                    what, rc, err, ol);
    }
    free(err);
    free(out);
}

static uint64_t fnv1a(uint64_t h, const uint8_t *b, size_t n)
{
    while (n--)
        h = (h ^ *b++) * 0x100000001b3ull;
    return h;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void versions(const uint8_t *img, size_t len)
{
    static const uint32_t vers[] = {0, 1, 3, 0xffffffffu};
    uint8_t *c = malloc(len);
    char what[64], *err;
    size_t el;

    for (size_t i = 0; i < sizeof vers / sizeof vers[0]; i++) {
        for (int fix = 0; fix < 2; fix++) {
            memcpy(c, img, len);
            put_le(c + 8, vers[i], 4);
            if (fix)
                put_le(c + 24, fnv1a(fnv1a(0xcbf29ce484222325ull, c, 24),
                                     c + 32, len - 32), 8);
            spit(bad, c, len);
            snprintf(what, sizeof what, "version %u%s", (unsigned)vers[i],
                     fix ? " (checksum matching)" : "");
            refused(what);
            err = slurp(errf, &el);
            if (!strstr(err, "format version"))
                failures++, fprintf(stderr, "%s: reason is not the "
                                            "version: %s\n", what, err);
            free(err);
        }
    }
    free(c);
}

int main(int argc, char **argv)
{
    char arg[4200], what[64];
    uint8_t *img, *c;
    size_t len, nbits;
    bool all = argc == 6 && strcmp(argv[5], "all") == 0;

    if (argc != 5 && !all)
        return fprintf(stderr, "usage: save_check SIM SCENARIO STEP WORK "
                               "[all]\n"), 2;
    sim = argv[1], scen = argv[2], work = argv[4];
    snprintf(save, sizeof save, "%s/save", work);
    snprintf(bad, sizeof bad, "%s/bad", work);
    snprintf(errf, sizeof errf, "%s/stderr", work);
    snprintf(outf, sizeof outf, "%s/stdout", work);
    snprintf(arg, sizeof arg, "mkdir -p '%s' && '%s' --trace=none "
             "'--save-at=%s:%s' '%s'", work, sim, argv[3], save, scen);
    if (system(arg) != 0)
        return fprintf(stderr, "save run failed: %s\n", arg), 1;
    img = (uint8_t *)slurp(save, &len);
    c = malloc(len + 1);
    if (len <= 64 || !c || run(save) != 0)
        return fprintf(stderr, "the save file does not resume\n"), 1;
    /* Single-bit flips: the whole header, then the body. */
    nbits = all ? (len - 32) * 8 : 512;
    for (size_t i = 0; i < 256 + nbits; i++) {
        size_t byte = i < 256 ? i / 8
                      : all   ? 32 + (i - 256) / 8
                              : 32 + (i - 256) * (len - 32) / nbits;
        unsigned bit = all || i < 256 ? i % 8 : (unsigned)(i * 5) % 8;
        memcpy(c, img, len);
        c[byte] ^= (uint8_t)(1u << bit);
        spit(bad, c, len);
        snprintf(what, sizeof what, "bit %u of byte %zu", bit, byte);
        refused(what);
    }
    /* Truncations and one byte more. */
    {
        size_t cuts[] = {0, 1, 7, 8, 16, 31, 32, 33, 48, len / 2, len - 9,
                         len - 1};
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            spit(bad, img, cuts[i]);
            snprintf(what, sizeof what, "truncated to %zu bytes", cuts[i]);
            refused(what);
        }
        memcpy(c, img, len);
        c[len] = 0;
        spit(bad, c, len + 1);
        refused("one byte appended");
    }
    versions(img, len);
    printf("%u corruptions of a %zu-byte save file checked, %u accepted "
           "or badly refused\n", checks, len, failures);
    free(img);
    free(c);
    return failures ? 1 : 0;
}
