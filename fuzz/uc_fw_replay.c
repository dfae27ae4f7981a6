/*
 * uc_fw_replay: fuzz_uc_firmware's inputs without libFuzzer (ctest).
 *
 *   uc_fw_replay [--firmware=input|buggy|fixed] [--expect=finding|clean]
 *                [--record=FILE] INPUT|DIR...
 *
 * Runs each input (each file of a DIR) through the same runner as the
 * target (uc_firmware_ops.c) on the chosen twin (default: the input's
 * bit 7) and prints what happened.  --expect: every input must give a
 * finding (a committed crash input still finds its bug: the target's
 * power) or none (the fixed twin runs clean).  --record (one INPUT):
 * record the libintc machine inside for the whole run
 * (intc_machine_record) and write the recording to FILE, for
 * `intc-sim --replay FILE [--to-yaml=OUT]`.
 * Every input runs twice (the second time unrecorded): both runs must
 * end the same way, at the same time and instruction count.
 * Exit 0 when every input met --expect, 1 otherwise, 2 on bad usage, a
 * harness failure or a non-deterministic run.
 */
#include "uc_firmware.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXPECT_ANY, EXPECT_FINDING, EXPECT_CLEAN };

typedef struct opts {
    ucf_variant variant;
    int expect;
    const char *record;
} opts;

static int rec_write(void *ctx, const void *buf, size_t len)
{
    return fwrite(buf, 1, len, ctx) == len ? 0 : -1;
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    uint8_t *p = NULL;
    size_t cap = 0;
    *n = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (*n == cap) {
            uint8_t *q = realloc(p, cap = cap ? 2 * cap : 4096);
            if (!q)
                break;
            p = q;
        }
        size_t k = fread(p + *n, 1, cap - *n, f);
        *n += k;
        if (k == 0)
            break;
    }
    fclose(f);
    return p ? p : malloc(1);
}

/* Run the input again without recording: the outcome must be the same,
   field for field (the runner is deterministic and recording changes
   nothing).  0, or -1 with r->msg saying what differed. */
static int same_again(const uint8_t *p, size_t n, ucf_variant v, ucf_result *r)
{
    ucf_opts uo = {v, -1, NULL, NULL};
    ucf_result r2;
    if (ucf_run(p, n, &uo, &r2) != 0) {
        *r = r2;
        return -1;
    }
    if (r2.finding != r->finding || r2.events != r->events ||
        r2.time_ns != r->time_ns || r2.insns != r->insns ||
        strcmp(r2.msg, r->msg) != 0) {
        snprintf(r->msg, sizeof r->msg,
                 "not deterministic: a second run ended at %" PRIu64
                 " ns, %" PRIu64 " insns: %.200s",
                 r2.time_ns, r2.insns, r2.finding ? r2.msg : "clean");
        return -1;
    }
    return 0;
}

/* 0 as expected, 1 not, 2 harness failure. */
static int one(const opts *o, const char *path)
{
    size_t n;
    uint8_t *p = slurp(path, &n);
    FILE *rf = NULL;
    ucf_result r;
    if (!p) {
        perror(path);
        return 2;
    }
    if (o->record && !(rf = fopen(o->record, "wb"))) {
        perror(o->record);
        free(p);
        return 2;
    }
    ucf_opts uo = {o->variant, -1, rf ? rec_write : NULL, rf};
    int rc = ucf_run(p, n, &uo, &r);
    if (rc == 0) /* determinism: a second run, unrecorded, the same */
        rc = same_again(p, n, o->variant, &r);
    free(p);
    if (rf && fclose(rf) != 0 && rc == 0) {
        snprintf(r.msg, sizeof r.msg, "writing %s failed", o->record);
        rc = -1;
    }
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", path, r.msg);
        return 2;
    }
    printf("%s: %s %s, %u events, %" PRIu64 " ns, %" PRIu64 " insns: %s\n",
           path, r.fixed ? "fixed" : "buggy", ucf_driver_name(r.driver),
           r.events, r.time_ns, r.insns, r.finding ? r.msg : "clean");
    if ((o->expect == EXPECT_FINDING && !r.finding) ||
        (o->expect == EXPECT_CLEAN && r.finding)) {
        printf("%s: FAILED: expected %s\n", path,
               o->expect == EXPECT_FINDING ? "a finding" : "a clean run");
        return 1;
    }
    return 0;
}

static int one_or_dir(const opts *o, const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return one(o, path);
    int worst = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char sub[4096];
        if (e->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        int rc = one(o, sub);
        worst = rc > worst ? rc : worst;
    }
    closedir(d);
    return worst;
}

static int parse(int argc, char **argv, opts *o, int *first)
{
    int i;
    memset(o, 0, sizeof *o);
    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--firmware=input") == 0)
            o->variant = UCF_INPUT;
        else if (strcmp(a, "--firmware=buggy") == 0)
            o->variant = UCF_BUGGY;
        else if (strcmp(a, "--firmware=fixed") == 0)
            o->variant = UCF_FIXED;
        else if (strcmp(a, "--expect=finding") == 0)
            o->expect = EXPECT_FINDING;
        else if (strcmp(a, "--expect=clean") == 0)
            o->expect = EXPECT_CLEAN;
        else if (strncmp(a, "--record=", 9) == 0 && a[9])
            o->record = a + 9;
        else
            return -1;
    }
    *first = i;
    if (i == argc || (o->record && argc - i != 1))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    int first, worst = 0;
    if (parse(argc, argv, &o, &first) != 0) {
        fprintf(stderr,
                "usage: uc_fw_replay [--firmware=input|buggy|fixed] "
                "[--expect=finding|clean] [--record=FILE] INPUT|DIR...\n");
        return 2;
    }
    for (int i = first; i < argc; i++) {
        int rc = one_or_dir(&o, argv[i]);
        worst = rc > worst ? rc : worst;
    }
    return worst;
}
