/*
 * kit_file.h — read a whole file into memory, for the command-line tools
 * around the tests (intc-uc-run, machine2yaml).  Header-only, so a
 * program that does not link intc_testkit (intc-uc-run links
 * intc_uc_static alone) can use it too.
 */
#ifndef INTC_KIT_FILE_H
#define INTC_KIT_FILE_H

#include <stdio.h>
#include <stdlib.h>

/* The contents of path in a malloc'd buffer (*len bytes; free() it), or
   NULL when the file cannot be opened or read, memory runs out, or it is
   larger than max bytes (0: no limit). */
static inline unsigned char *kit_read_file(const char *path, size_t max,
                                           size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;

    if (!f)
        return NULL;
    for (;;) {
        if (n == cap) {
            unsigned char *nb;
            cap = cap ? 2 * cap : 65536;
            if (!(nb = realloc(buf, cap))) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (max && n > max) {
            free(buf);
            fclose(f);
            return NULL;
        }
        if (got == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

#endif
