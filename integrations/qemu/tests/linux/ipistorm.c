/*
 * ipistorm: the IPI-heavy workload of the Linux boot test (issue 14,
 * point 4).  Built static (gcc -static -pthread) into the initramfs.
 *
 *   ipistorm [-s SECONDS] [-r MIN_ROUNDS]
 *
 * One worker thread pinned to every online CPU and one sleeper thread
 * pinned beside it.  Each round of a worker:
 *   - maps private anonymous pages, writes them, write-protects them with
 *     mprotect, checks them and unmaps them.  The process's threads are
 *     running on every CPU, so both the mprotect and the munmap make the
 *     kernel flush the other CPUs' TLBs with a function-call IPI (the
 *     "TLB" and "CAL" rows of /proc/interrupts);
 *   - writes its slot of a shared mapping, write-protects the slot
 *     (another flush) and checks the slot of the next worker, which that
 *     worker wrote on another CPU;
 *   - wakes the sleeper pinned to the next CPU, where a worker is
 *     running: a cross-CPU wakeup (a reschedule IPI, "RES", or the
 *     scheduler's queued wakeup, "CAL", depending on the cache topology);
 *   - every 8th round, membarrier(PRIVATE_EXPEDITED): an IPI to every CPU
 *     running a thread of this process ("CAL").
 * The workers stop once SECONDS (default 4) have passed and each did at
 * least MIN_ROUNDS rounds (default 200).  Progress goes to stdout:
 *   "ipistorm: running N workers" once every thread is pinned and started,
 *   "ipistorm: halfway, rounds so far R0 R1..." when half the time passed,
 *   one "ipistorm: cpu C rounds R wakeups W membarriers M" line per CPU,
 *   and "ipistorm: ok" or "ipistorm: FAIL reason" last (exit 0 or 1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_CPUS 64
#define PRIV_PAGES 8  /* private pages mapped per round */
#define SLOT_PAGES 2  /* pages of a worker's slot in the shared mapping */
#define MB_EVERY 8    /* rounds between two membarrier calls */

struct cpu_state {
    int cpu;            /* the CPU this pair of threads is pinned to */
    sem_t wake;         /* posted by the previous CPU's worker */
    uint64_t rounds;    /* worker rounds done */
    uint64_t wakeups;   /* times the sleeper returned from sem_wait */
    uint64_t mbs;       /* membarrier calls that succeeded */
    const char *error;  /* first failure of this CPU's threads, or NULL */
};

static struct cpu_state cpus[MAX_CPUS];
static int ncpus;
static long page;
static unsigned char *shared;      /* ncpus slots of SLOT_PAGES pages */
static atomic_int time_up;         /* set by main once SECONDS passed */
static atomic_int workers_left;    /* workers still running */
static atomic_int sleepers_stop;   /* set when every worker is done */
static int have_membarrier;
static uint64_t min_rounds = 200;
static pthread_barrier_t start;

static int membarrier(int cmd)
{
    return (int)syscall(__NR_membarrier, cmd, 0, 0);
}

static void fail(struct cpu_state *s, const char *why)
{
    if (!s->error)
        s->error = why;
}

static int pin(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static unsigned char *slot(int i)
{
    return shared + (size_t)i * SLOT_PAGES * page;
}

/* One round of a worker: the memory part (TLB shootdowns). */
static void memory_round(struct cpu_state *s)
{
    size_t len = (size_t)PRIV_PAGES * page;
    unsigned char tag = (unsigned char)(s->rounds * 7 + s->cpu);
    unsigned char *p, *mine = slot(s->cpu);
    int next = (s->cpu + 1) % ncpus;
    unsigned char seen;

    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
    if (p == MAP_FAILED) {
        fail(s, "mmap failed");
        return;
    }
    for (size_t off = 0; off < len; off += (size_t)page)
        p[off] = tag;
    /* Write permission removed from present PTEs: a remote flush. */
    if (mprotect(p, len, PROT_READ) != 0)
        fail(s, "mprotect of the private pages failed");
    for (size_t off = 0; off < len; off += (size_t)page)
        if (p[off] != tag)
            fail(s, "private page lost its contents");
    if (munmap(p, len) != 0)
        fail(s, "munmap failed");

    /* The shared slot: written here, read by the previous CPU's worker. */
    if (mprotect(mine, (size_t)SLOT_PAGES * page, PROT_READ | PROT_WRITE))
        fail(s, "mprotect of the shared slot (rw) failed");
    for (int i = 0; i < SLOT_PAGES; i++)
        atomic_store_explicit((_Atomic unsigned char *)&mine[i * page],
                              (unsigned char)(s->cpu + 1),
                              memory_order_release);
    if (mprotect(mine, (size_t)SLOT_PAGES * page, PROT_READ))
        fail(s, "mprotect of the shared slot (ro) failed");
    /* 0 before the next worker's first round, its number after. */
    seen = atomic_load_explicit((_Atomic unsigned char *)slot(next),
                                memory_order_acquire);
    if (seen != 0 && seen != next + 1)
        fail(s, "shared slot of the next CPU holds a stranger's value");
}

static void *worker(void *arg)
{
    struct cpu_state *s = arg;
    struct cpu_state *wakee = &cpus[(s->cpu + 1) % ncpus];

    if (pin(s->cpu) != 0)
        fail(s, "cannot pin the worker");
    pthread_barrier_wait(&start);
    while (!atomic_load(&time_up) || s->rounds < min_rounds) {
        if (sched_getcpu() != s->cpu)
            fail(s, "worker ran on another CPU than its own");
        memory_round(s);
        sem_post(&wakee->wake);
        if (have_membarrier && s->rounds % MB_EVERY == 0) {
            if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0)
                s->mbs++;
            else
                fail(s, "membarrier failed");
        }
        /* Atomic: main reads it at the halfway mark. */
        __atomic_store_n(&s->rounds, s->rounds + 1, __ATOMIC_RELAXED);
    }
    if (atomic_fetch_sub(&workers_left, 1) == 1) {
        /* The last worker out releases every sleeper. */
        atomic_store(&sleepers_stop, 1);
        for (int i = 0; i < ncpus; i++)
            sem_post(&cpus[i].wake);
    }
    return NULL;
}

static void *sleeper(void *arg)
{
    struct cpu_state *s = arg;

    if (pin(s->cpu) != 0)
        fail(s, "cannot pin the sleeper");
    pthread_barrier_wait(&start);
    for (;;) {
        while (sem_wait(&s->wake) != 0 && errno == EINTR)
            ;
        if (atomic_load(&sleepers_stop))
            break;
        s->wakeups++;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t workers[MAX_CPUS], sleepers[MAX_CPUS];
    struct timespec t = {4, 0}, half, rest;
    cpu_set_t online;
    const char *bad = NULL;
    int opt, n = 0;

    while ((opt = getopt(argc, argv, "s:r:")) != -1) {
        switch (opt) {
        case 's':
            t.tv_sec = strtol(optarg, NULL, 10);
            break;
        case 'r':
            min_rounds = strtoull(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr, "usage: ipistorm [-s SECONDS] [-r ROUNDS]\n");
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    page = sysconf(_SC_PAGESIZE);

    /* The CPUs this process may run on: every online CPU under init. */
    if (sched_getaffinity(0, sizeof(online), &online) != 0) {
        perror("ipistorm: sched_getaffinity");
        return 1;
    }
    for (int c = 0; c < MAX_CPUS && n < CPU_COUNT(&online); c++)
        if (CPU_ISSET(c, &online))
            cpus[n++].cpu = c;
    ncpus = n;
    if (ncpus < 2) {
        printf("ipistorm: FAIL only %d CPU(s)\n", ncpus);
        return 1;
    }
    /* Slots indexed by position, so renumber: CPU c is cpus[c]. */
    for (int i = 0; i < ncpus; i++)
        if (cpus[i].cpu != i) {
            printf("ipistorm: FAIL CPUs not numbered 0..%d\n", ncpus - 1);
            return 1;
        }

    shared = mmap(NULL, (size_t)ncpus * SLOT_PAGES * page,
                  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        perror("ipistorm: mmap shared");
        return 1;
    }
    have_membarrier =
        membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
    if (!have_membarrier)
        printf("ipistorm: membarrier unavailable (%s)\n", strerror(errno));

    atomic_store(&workers_left, ncpus);
    pthread_barrier_init(&start, NULL, 2 * ncpus + 1);
    for (int i = 0; i < ncpus; i++) {
        sem_init(&cpus[i].wake, 0, 0);
        if (pthread_create(&sleepers[i], NULL, sleeper, &cpus[i]) ||
            pthread_create(&workers[i], NULL, worker, &cpus[i])) {
            printf("ipistorm: FAIL pthread_create\n");
            return 1;
        }
    }
    pthread_barrier_wait(&start);
    printf("ipistorm: running %d workers\n", ncpus);

    /* Half the time, a progress line (run.sh's savevm run saves the VM
     * when it sees it), the other half. */
    half.tv_sec = t.tv_sec / 2;
    half.tv_nsec = (t.tv_sec % 2) * 500000000L;
    rest = half;
    while (nanosleep(&half, &half) != 0 && errno == EINTR)
        ;
    printf("ipistorm: halfway, rounds so far");
    for (int i = 0; i < ncpus; i++)
        printf(" %llu", (unsigned long long)__atomic_load_n(
                            &cpus[i].rounds, __ATOMIC_RELAXED));
    printf("\n");
    while (nanosleep(&rest, &rest) != 0 && errno == EINTR)
        ;
    atomic_store(&time_up, 1);
    for (int i = 0; i < ncpus; i++)
        pthread_join(workers[i], NULL);
    for (int i = 0; i < ncpus; i++)
        pthread_join(sleepers[i], NULL);

    for (int i = 0; i < ncpus; i++) {
        struct cpu_state *s = &cpus[i];

        printf("ipistorm: cpu %d rounds %llu wakeups %llu membarriers %llu"
               "%s%s\n",
               s->cpu, (unsigned long long)s->rounds,
               (unsigned long long)s->wakeups, (unsigned long long)s->mbs,
               s->error ? " error: " : "", s->error ? s->error : "");
        if (s->error && !bad)
            bad = s->error;
        if (s->wakeups == 0 && !bad)
            bad = "a sleeper was never woken";
    }
    if (bad) {
        printf("ipistorm: FAIL %s\n", bad);
        return 1;
    }
    printf("ipistorm: ok\n");
    return 0;
}
