/* A minimal out-of-tree user of an installed libintc: create a machine
   through the public API only and print the library's version. */
#include <stdio.h>

#include <intc/intc.h>

int main(void)
{
    intc_machine_config cfg;
    intc_err err = INTC_OK;

    intc_machine_config_init(&cfg);
    cfg.n_cpus = 2;
    intc_machine *m = intc_machine_new(&cfg, NULL, NULL, &err);
    if (!m) {
        fprintf(stderr, "intc_machine_new: %s\n", intc_strerror(err));
        return 1;
    }
    /* The header the consumer compiled against must match the library:
       exactly here, and by the documented runtime guard. */
    if (intc_version() != INTC_VERSION_HEX || !INTC_VERSION_CHECK()) {
        fprintf(stderr, "header/library version mismatch\n");
        return 1;
    }
    printf("libintc %s\n", intc_version_string());
    intc_machine_free(m);
    return 0;
}
