/*
 * irfault: a forged MSI that the IOMMU's interrupt remapping must block,
 * for the Linux boot test (issue 15, point 1).  Built static into the
 * initramfs; run by init as root, with no driver bound to the device.
 *
 *   irfault [-w MILLISECONDS]
 *
 * It finds QEMU's edu device (vendor 1234, device 11e8) in
 * /sys/bus/pci/devices and, through the sysfs files of the device alone:
 *   - writes the kernel's address of BAR 0 (from "resource") into the
 *     BAR and sets memory space and bus mastering in the command
 *     register (QEMU 7.2's edu has no VMState: after -loadvm its config
 *     space is at reset, BAR 0 and the command register zero);
 *   - programs its MSI capability ("config") with a message that the
 *     IOMMU the ACPI tables name must fault and enables MSI;
 *   - maps BAR 0 ("resource0"), checks it reaches edu (the
 *     identification register, the inverting register at 0x04) and
 *     writes edu's "raise interrupt" register (0x60): edu sends its MSI;
 *     then acknowledges it (0x64), disables MSI and restores the command
 *     register;
 *   - waits up to -w ms (default 2000) for the kernel's fault message in
 *     /dev/kmsg, which it only shows: run.sh decides.
 *
 * The message:
 *   VT-d (ACPI DMAR): a remappable-format MSI (VT-d 5.1.2.2), address
 *     0xFEE00000 | handle[14:0] << 5 | 1 << 4 (format) | handle[15] << 2,
 *     SHV 0, data 0, handle 0xffff.  Linux 6.1 allocates the remapping
 *     table zeroed with 65536 entries (INTR_REMAP_TABLE_ENTRIES, IRTA
 *     size 0xf) and hands out entries from index 0 upwards, a few dozen
 *     here, so the last entry is never present: fault reason 0x22
 *     ("Present field in the IRTE entry is clear").  No 16-bit handle
 *     exceeds that table, so reason 0x21 cannot be reached.
 *   AMD-Vi (ACPI IVRS): a plain MSI, address 0xFEE00000, data 0.  Linux
 *     sets IV in every device's DTE but gives a device an interrupt
 *     table (IntCtl 10b) only when it allocates its interrupts; edu has
 *     no driver, so IntCtl is 00b, a target abort, which is logged as
 *     IO_PAGE_FAULT.  Its message names the device, not the index.
 *
 * Output, on stdout:
 *   "irfault: sent edu BDF iommu KIND index 0xN reason R" once the MSI
 *     went out (R: 0x22 for VT-d, IO_PAGE_FAULT for AMD-Vi),
 *   "irfault: kernel after N ms: LINE" for each kernel line about it,
 *     or "irfault: no kernel message in N ms",
 *   "irfault: no IOMMU (no ACPI DMAR or IVRS table): nothing sent",
 *   "irfault: FAIL why" when it could not send (exit 1).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_ID 0x00      /* 0xRRrr00ed: major, minor, "ed" */
#define EDU_INVERT 0x04  /* reads back the complement of what was written */
#define EDU_RAISE 0x60   /* raise interrupt: irq_status |= value */
#define EDU_ACK 0x64     /* acknowledge: irq_status &= ~value */
#define EDU_IRQ_BIT 0x1

#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_STATUS 0x06
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_BAR0 0x10
#define PCI_CAP_PTR 0x34
#define PCI_CAP_MSI 0x05
#define MSI_CTRL 2       /* offsets in the MSI capability */
#define MSI_ADDR_LO 4
#define MSI_ADDR_HI 8
#define MSI_CTRL_ENABLE 0x1
#define MSI_CTRL_MME 0x70
#define MSI_CTRL_64BIT 0x80

#define VTD_INDEX 0xffffu
#define MSI_BASE 0xfee00000u
#define MSI_REMAPPABLE (1u << 4)

static char dev[512];     /* /sys/bus/pci/devices/BDF */
static const char *bdf;   /* its last component */
static int cfg = -1;      /* its config file */

static int fail(const char *why)
{
    printf("irfault: FAIL %s%s%s\n", why, errno ? ": " : "",
           errno ? strerror(errno) : "");
    return 1;
}

/* read_hex PATH: the number in a sysfs file ("0x1234"), or -1. */
static long read_hex(const char *path)
{
    FILE *f = fopen(path, "r");
    long v = -1;

    if (!f)
        return -1;
    if (fscanf(f, "%li", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

static int find_edu(void)
{
    DIR *d = opendir("/sys/bus/pci/devices");
    struct dirent *e;
    char p[600];

    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/vendor", e->d_name);
        if (read_hex(p) != EDU_VENDOR)
            continue;
        snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/device", e->d_name);
        if (read_hex(p) != EDU_DEVICE)
            continue;
        snprintf(dev, sizeof(dev), "/sys/bus/pci/devices/%s", e->d_name);
        bdf = strrchr(dev, '/') + 1;
        closedir(d);
        return 0;
    }
    closedir(d);
    return -1;
}

/* Config space accesses through sysfs, little-endian like the device. */
static int cfg_read(unsigned off, void *buf, size_t n)
{
    return pread(cfg, buf, n, off) == (ssize_t)n ? 0 : -1;
}

static int cfg_write(unsigned off, const void *buf, size_t n)
{
    return pwrite(cfg, buf, n, off) == (ssize_t)n ? 0 : -1;
}

static int cfg_write16(unsigned off, uint16_t v)
{
    return cfg_write(off, &v, sizeof(v));
}

static int cfg_write32(unsigned off, uint32_t v)
{
    return cfg_write(off, &v, sizeof(v));
}

/* find_msi: the offset of the MSI capability, or 0. */
static unsigned find_msi(void)
{
    uint16_t status;
    uint8_t at, hdr[2];
    int hops = 0;

    if (cfg_read(PCI_STATUS, &status, sizeof(status)) ||
        !(status & PCI_STATUS_CAP_LIST))
        return 0;
    if (cfg_read(PCI_CAP_PTR, &at, 1))
        return 0;
    /* 48 capabilities at most fit in the 192 bytes after the header. */
    while (at >= 0x40 && hops++ < 48) {
        at &= 0xfc;
        if (cfg_read(at, hdr, sizeof(hdr)))
            return 0;
        if (hdr[0] == PCI_CAP_MSI)
            return at;
        at = hdr[1];
    }
    return 0;
}

static long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* is_fault_line MSG: a kernel line about an interrupt-remapping fault. */
static int is_fault_line(const char *m)
{
    return strstr(m, "DMAR: DRHD: handling fault") ||
           strstr(m, "[INTR-REMAP]") || strstr(m, "AMD-Vi: Event logged");
}

/*
 * wait_kernel FD MS: show the kernel's records about the fault that
 * arrive on /dev/kmsg (opened and moved to its end before the MSI) within
 * MS milliseconds; stop at the line that names the request.
 */
static void wait_kernel(int fd, long ms)
{
    long t0 = now_ms(), left = ms;
    char rec[2048], *msg;
    int seen = 0;
    ssize_t n;

    while (left > 0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};

        if (poll(&p, 1, (int)left) <= 0)
            break;
        /* One record a read: "prio,seq,usec,flags;text\n"; EPIPE:
           records were overwritten, read on. */
        for (;;) {
            n = read(fd, rec, sizeof(rec) - 1);
            if (n < 0 && errno == EPIPE)
                continue;
            if (n <= 0)
                break;
            rec[n] = '\0';
            msg = strchr(rec, ';');
            if (!msg)
                continue;
            msg++;
            msg[strcspn(msg, "\n")] = '\0';
            if (!is_fault_line(msg))
                continue;
            printf("irfault: kernel after %ld ms: %s\n", now_ms() - t0, msg);
            if (!strstr(msg, "DRHD: handling fault"))
                seen = 1;
        }
        if (seen)
            return;
        left = ms - (now_ms() - t0);
    }
    printf("irfault: no kernel message in %ld ms\n", ms);
}

int main(int argc, char **argv)
{
    enum { VTD, AMDVI } kind;
    char path[600];
    unsigned long long start, end, flags;
    uint16_t cmd, ctrl;
    uint32_t addr, data = 0, id, index;
    volatile uint32_t *mmio;
    unsigned msi;
    long wait_ms = 2000;
    int opt, fd, kmsg;
    FILE *f;

    while ((opt = getopt(argc, argv, "w:")) != -1) {
        if (opt != 'w') {
            fprintf(stderr, "usage: irfault [-w MILLISECONDS]\n");
            return 2;
        }
        wait_ms = strtol(optarg, NULL, 10);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (access("/sys/firmware/acpi/tables/DMAR", F_OK) == 0) {
        kind = VTD;
    } else if (access("/sys/firmware/acpi/tables/IVRS", F_OK) == 0) {
        kind = AMDVI;
    } else {
        printf("irfault: no IOMMU (no ACPI DMAR or IVRS table): "
               "nothing sent\n");
        return 0;
    }
    errno = 0;
    if (find_edu())
        return fail("no edu device (1234:11e8) in /sys/bus/pci/devices");
    if (kind == VTD) {
        index = VTD_INDEX;
        addr = MSI_BASE | (index & 0x7fff) << 5 | MSI_REMAPPABLE |
               (index >> 15) << 2;
    } else {
        index = 0;
        addr = MSI_BASE;
    }

    snprintf(path, sizeof(path), "%s/resource", dev);
    f = fopen(path, "r");
    if (!f || fscanf(f, "%llx %llx %llx", &start, &end, &flags) != 3)
        return fail("cannot read the BAR 0 line of resource");
    fclose(f);
    if (start == 0 || start >> 32 || end < start + 0xfff)
        return fail("BAR 0 not assigned below 4 GiB, or under 4 KiB");

    snprintf(path, sizeof(path), "%s/config", dev);
    cfg = open(path, O_RDWR);
    if (cfg < 0)
        return fail("cannot open config");
    msi = find_msi();
    if (!msi)
        return fail("no MSI capability");
    if (cfg_read(PCI_COMMAND, &cmd, sizeof(cmd)) ||
        cfg_read(msi + MSI_CTRL, &ctrl, sizeof(ctrl)))
        return fail("cannot read config");

    /* MSI off while its registers change, one vector (MME 0). */
    ctrl &= (uint16_t)~(MSI_CTRL_ENABLE | MSI_CTRL_MME);
    if (cfg_write16(msi + MSI_CTRL, ctrl) ||
        cfg_write32(PCI_BAR0, (uint32_t)start) ||
        cfg_write16(PCI_COMMAND, cmd | PCI_COMMAND_MEMORY |
                    PCI_COMMAND_MASTER) ||
        cfg_write32(msi + MSI_ADDR_LO, addr))
        return fail("cannot write config");
    if (ctrl & MSI_CTRL_64BIT) {
        if (cfg_write32(msi + MSI_ADDR_HI, 0) ||
            cfg_write16(msi + MSI_ADDR_HI + 4, (uint16_t)data))
            return fail("cannot write the MSI data");
    } else if (cfg_write16(msi + MSI_ADDR_HI, (uint16_t)data)) {
        return fail("cannot write the MSI data");
    }

    snprintf(path, sizeof(path), "%s/resource0", dev);
    fd = open(path, O_RDWR | O_SYNC);
    if (fd < 0)
        return fail("cannot open resource0");
    mmio = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mmio == MAP_FAILED)
        return fail("cannot map resource0");
    id = mmio[EDU_ID / 4];
    mmio[EDU_INVERT / 4] = 0x5a5a0f0f;
    if ((id & 0xffff) != 0x00ed || mmio[EDU_INVERT / 4] != 0xa5a5f0f0) {
        printf("irfault: FAIL BAR 0 at 0x%llx does not answer as edu "
               "(id 0x%08x)\n", start, id);
        return 1;
    }

    /* The kernel's records from now on only. */
    kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
    if (kmsg >= 0)
        lseek(kmsg, 0, SEEK_END);

    if (cfg_write16(msi + MSI_CTRL, ctrl | MSI_CTRL_ENABLE))
        return fail("cannot enable MSI");
    /* edu sends the MSI from the write, the IOMMU decides there. */
    mmio[EDU_RAISE / 4] = EDU_IRQ_BIT;
    mmio[EDU_ACK / 4] = EDU_IRQ_BIT;
    errno = 0;
    if (cfg_write16(msi + MSI_CTRL, ctrl) ||
        cfg_write16(PCI_COMMAND, cmd))
        return fail("cannot disable MSI again");
    if (kind == VTD)
        printf("irfault: sent edu %s iommu vt-d index 0x%x reason 0x22 "
               "(msi address 0x%08x data 0x%x)\n", bdf, index, addr, data);
    else
        printf("irfault: sent edu %s iommu amd-vi index 0x%x reason "
               "IO_PAGE_FAULT (msi address 0x%08x data 0x%x)\n", bdf, index,
               addr, data);
    if (kmsg >= 0)
        wait_kernel(kmsg, wait_ms);
    else
        printf("irfault: no /dev/kmsg (%s)\n", strerror(errno));
    munmap((void *)mmio, 4096);
    close(fd);
    close(cfg);
    return 0;
}
