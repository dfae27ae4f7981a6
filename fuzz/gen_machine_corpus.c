/*
 * Writes the fuzz_machine seed corpus: gen_machine_corpus DIR creates
 * DIR/fuzz_machine/ and the seeds of machine_seeds.h in it (the committed
 * copy is fuzz/corpus/fuzz_machine/).  Deterministic: the same bytes on
 * every run.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "machine_seeds.h"

int main(int argc, char **argv)
{
    char dir[4096];

    if (argc != 2) {
        fprintf(stderr, "usage: gen_machine_corpus DIR\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "%s/fuzz_machine", argv[1]);
    if ((mkdir(argv[1], 0777) && errno != EEXIST) ||
        (mkdir(dir, 0777) && errno != EEXIST) || mo_write_seeds(dir)) {
        fprintf(stderr, "gen_machine_corpus: cannot write %s\n", dir);
        return 1;
    }
    return 0;
}
