/* A minimal out-of-tree user of an installed libintc-uc: a two-CPU
   machine runs three instructions that write the pass code to the
   debug-exit port; print the library version and the stop. */
#include <stdio.h>

#include <intc/uc.h>

int main(void)
{
    /* mov eax, 0x600d; out 0xf4, eax; hlt */
    static const unsigned char code[] = {0xb8, 0x0d, 0x60, 0x00, 0x00,
                                         0xe7, 0xf4, 0xf4};
    intc_uc_config cfg;
    intc_uc_config_init(&cfg);
    cfg.n_cpus = 2;
    intc_err err = INTC_OK;
    intc_uc *m = intc_uc_new(&cfg, &err);
    if (!m) {
        fprintf(stderr, "intc_uc_new: %s\n", intc_strerror(err));
        return 1;
    }
    intc_uc_stop_info st;
    if (intc_uc_load(m, cfg.entry, code, sizeof code) != INTC_OK ||
        intc_uc_run(m, 1000, 0, &st) != INTC_OK ||
        st.reason != INTC_UC_STOP_EXIT || st.code != INTC_UC_EXIT_PASS ||
        intc_uc_version() != INTC_VERSION_HEX) {
        fprintf(stderr, "libintc-uc: unexpected result\n");
        intc_uc_free(m);
        return 1;
    }
    printf("libintc-uc %s %s %#llx\n", intc_version_string(),
           intc_uc_stop_name(st.reason), (unsigned long long)st.code);
    intc_uc_free(m);
    return 0;
}
