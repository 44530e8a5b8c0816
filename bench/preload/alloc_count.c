/* alloc_count: counts a process's heap allocations (LD_PRELOAD).
 *
 *     LD_PRELOAD=build/libsgs_alloc_count.so ALLOC_COUNT_OUT=/tmp/allocs.txt prog ...
 *
 * Wraps malloc, calloc, realloc, reallocarray, free, posix_memalign,
 * aligned_alloc, memalign, valloc and pvalloc, forwarding each to glibc's own
 * allocator (__libc_malloc & co., so no dlsym and no recursion), and counts the
 * calls of every thread with C11 atomics. With ALLOC_COUNT_OUT=<file> set, a
 * thread started before main appends one line to <file> when it starts, every
 * ALLOC_COUNT_INTERVAL_MS milliseconds (default 100) and once more at exit:
 *
 *     <monotonic_ms> <mallocs> <callocs> <reallocs> <bytes> <memaligns> <frees>
 *     <realtime_ms> <main_allocs> <main_frees> <main_bytes>
 *
 * (one line). monotonic_ms is CLOCK_MONOTONIC and realtime_ms CLOCK_REALTIME,
 * both in milliseconds, so the samples can be set against a program's own
 * progress lines; every count is cumulative since the process started.
 * memaligns counts posix_memalign, aligned_alloc, memalign, valloc and pvalloc;
 * reallocarray counts as a realloc; bytes is the sum of the sizes asked for.
 * The main_ columns count the main thread's calls alone (allocations of every
 * kind, frees, bytes): in sgs-consumer and the ceiling that is the thread that
 * polls and handles the messages, while librdkafka allocates a fetched
 * message's memory on its own threads, ahead of the poll. Lines starting
 * with '#' are comments (the first names the pid and the columns, the last one
 * is "# exit" after the final sample). A "%p" in the file name stands for the
 * pid. A child forked without exec stops reporting; one that execs starts
 * afresh (it keeps LD_PRELOAD).
 *
 * Not for use with AddressSanitizer, which brings its own allocator (the build
 * leaves this library out of SGS_SANITIZE builds). The environment variables
 * do not start with SGS_: sgs programs reject unknown SGS_* variables.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t alignment, size_t size);

static _Atomic uint64_t n_malloc, n_calloc, n_realloc, n_memalign, n_free, n_bytes;
static _Atomic uint64_t n_main_alloc, n_main_free, n_main_bytes;
static pthread_t main_thread; /* the thread that ran the constructor */
static _Atomic int main_known;

/* The reporter: all of it is set up before the thread starts, and the file is
 * written under `lock` only while `active` (cleared at exit and in a forked
 * child). */
static int out_fd = -1;
static long interval_ms = 100;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int active;

static void count(_Atomic uint64_t *counter, size_t bytes)
{
    int on_main = atomic_load_explicit(&main_known, memory_order_acquire) &&
                  pthread_equal(pthread_self(), main_thread);
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
    if (bytes)
        atomic_fetch_add_explicit(&n_bytes, bytes, memory_order_relaxed);
    if (on_main) {
        atomic_fetch_add_explicit(counter == &n_free ? &n_main_free : &n_main_alloc, 1,
                                  memory_order_relaxed);
        if (bytes)
            atomic_fetch_add_explicit(&n_main_bytes, bytes, memory_order_relaxed);
    }
}

void *malloc(size_t size)
{
    count(&n_malloc, size);
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    count(&n_calloc, n && size <= SIZE_MAX / n ? n * size : 0);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    count(&n_realloc, size);
    return __libc_realloc(p, size);
}

void *reallocarray(void *p, size_t n, size_t size)
{
    if (n && size > SIZE_MAX / n) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, n * size);
}

void free(void *p)
{
    if (p)
        count(&n_free, 0);
    __libc_free(p);
}

void *memalign(size_t alignment, size_t size)
{
    count(&n_memalign, size);
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size)
{
    return memalign(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size)
{
    void *p;
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0)
        return EINVAL;
    p = memalign(alignment, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t size)
{
    return memalign((size_t)sysconf(_SC_PAGESIZE), size);
}

void *pvalloc(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (size > SIZE_MAX - page) {
        errno = ENOMEM;
        return NULL;
    }
    return memalign(page, size ? (size + page - 1) & ~(page - 1) : page);
}

static long long clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whole buffer to the file; snprintf and write, nothing that allocates. */
static void put(const char *s, size_t len)
{
    while (len > 0) {
        ssize_t w = write(out_fd, s, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        len -= (size_t)w;
    }
}

static unsigned long long get(_Atomic uint64_t *counter)
{
    return (unsigned long long)atomic_load_explicit(counter, memory_order_relaxed);
}

static void sample(int final)
{
    char line[256];
    int len;
    pthread_mutex_lock(&lock);
    if (active) {
        len = snprintf(
            line, sizeof(line), "%lld %llu %llu %llu %llu %llu %llu %lld %llu %llu %llu\n%s",
            clock_ms(CLOCK_MONOTONIC), get(&n_malloc), get(&n_calloc), get(&n_realloc),
            get(&n_bytes), get(&n_memalign), get(&n_free), clock_ms(CLOCK_REALTIME),
            get(&n_main_alloc), get(&n_main_free), get(&n_main_bytes), final ? "# exit\n" : "");
        if (len > 0)
            put(line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
        if (final)
            active = 0;
    }
    pthread_mutex_unlock(&lock);
}

static void *reporter(void *arg)
{
    struct timespec next;
    (void)arg;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        sample(0);
        next.tv_nsec += (interval_ms % 1000) * 1000000L;
        next.tv_sec += interval_ms / 1000 + next.tv_nsec / 1000000000L;
        next.tv_nsec %= 1000000000L;
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
            ;
        pthread_mutex_lock(&lock);
        int stop = !active;
        pthread_mutex_unlock(&lock);
        if (stop)
            return NULL;
    }
}

static void in_child(void)
{
    /* one thread here, and the parent's reporter did not come along */
    active = 0;
    pthread_mutex_init(&lock, NULL);
}

__attribute__((constructor)) static void alloc_count_start(void)
{
    const char *out = getenv("ALLOC_COUNT_OUT");
    const char *iv = getenv("ALLOC_COUNT_INTERVAL_MS");
    char path[4096], head[200];
    size_t len = 0;
    pthread_attr_t attr;
    pthread_t thread;
    int n;

    main_thread = pthread_self();
    atomic_store_explicit(&main_known, 1, memory_order_release);
    if (!out || !*out)
        return;
    if (iv && *iv) {
        char *end;
        long v = strtol(iv, &end, 10);
        if (*end == '\0' && v >= 1 && v <= 3600000)
            interval_ms = v;
    }
    /* the file name, with %p replaced by the pid */
    for (const char *s = out; *s && len + 24 < sizeof(path); s++) {
        if (s[0] == '%' && s[1] == 'p') {
            len += (size_t)snprintf(path + len, sizeof(path) - len, "%ld", (long)getpid());
            s++;
        } else {
            path[len++] = *s;
        }
    }
    path[len] = '\0';
    out_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out_fd < 0)
        return;
    n = snprintf(head, sizeof(head),
                 "# alloc_count pid %ld interval_ms %ld\n# monotonic_ms mallocs callocs reallocs "
                 "bytes memaligns frees realtime_ms main_allocs main_frees main_bytes\n",
                 (long)getpid(), interval_ms);
    if (n > 0)
        put(head, (size_t)n < sizeof(head) ? (size_t)n : sizeof(head) - 1);
    active = 1;
    pthread_atfork(NULL, NULL, in_child);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&thread, &attr, reporter, NULL) != 0)
        sample(0); /* no thread: at least the start and exit lines */
    pthread_attr_destroy(&attr);
}

__attribute__((destructor)) static void alloc_count_stop(void)
{
    if (out_fd >= 0)
        sample(1);
}
