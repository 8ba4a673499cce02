/*
 * hull.linux._sys: the container's init after the clone, in C (initexec).
 *
 * Why: the Python init is a fork of the runtime. The fork copies ~25 MB of
 * page tables, every page init's Python then writes is a copy-on-write
 * fault (~2.7 us each here, ~425 of them), its bytecode runs cold, and its
 * execve tears the copied mm down again: together ~3 ms of a ~17 ms start.
 * Here the parent (Python) turns the spec into a *plan* -- a list of
 * operations built by hull/runtime/initplan.py, which init_spawn() encodes
 * into a compact byte string -- and init_spawn() clones a child with
 * CLONE_VM that runs it: no page table copy, no copy-on-write, no
 * interpreter in the child.
 *
 * The plan reproduces hull/runtime/init.py (and rootfs.py, devnodes.py,
 * process.py) operation by operation: the same syscalls in the same order,
 * the same messages and exit codes. What depends only on the spec and the
 * host was decided by the planner; what depends on the container's tree as
 * it is being built (secure_join's walk, whether a target exists, mknod's
 * EEXIST, a mask's ENOTDIR...) is decided here, at that moment, exactly as
 * the Python does. Each op's comment names the Python it mirrors.
 *
 * Rules for code that runs in the CLONE_VM child (it shares the parent's
 * memory while the parent goes on running Python):
 *  - raw syscalls only (inline asm below): glibc's wrappers write errno in
 *    the *parent thread's* TLS, setresuid/setgroups wrappers broadcast to the
 *    parent's threads, malloc would use the parent's per-thread cache;
 *  - no malloc, no stdio: the child writes only its own stack and the arena
 *    the parent mapped for it before the clone (plan, scratch, stack);
 *  - signals: the parent blocks all of them around the clone, so the child
 *    starts with everything blocked; it resets every handler that is a
 *    function (Python's C handlers would run in the child and flag the
 *    parent) to SIG_DFL, keeps what is ignored (as execve does), and only
 *    right before execve sets SIGPIPE/SIGXFSZ (ignored by Python) to default
 *    and empties the mask, where the Python init does the same;
 *  - PR_SET_DUMPABLE and oom_score_adj are per mm: they reach the parent
 *    while the two share it (the runtime restores them once init has left).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#if (defined(__x86_64__) || defined(__aarch64__)) && defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
#define IE_SUPPORTED 1
#else
#define IE_SUPPORTED 0
#endif

/* the trampoline's bytes live in _sys.c (generated header) */
extern const unsigned char *hull_trampoline_data(size_t *size);

#if IE_SUPPORTED

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/* ---- raw syscalls: never errno, never a wrapper ------------------------ */

#if defined(__x86_64__)
static inline long
rsys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#else
static inline long
rsys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    return x0;
}
#endif

#define R0(n) rsys6((n), 0, 0, 0, 0, 0, 0)
#define R1(n, a) rsys6((n), (long)(a), 0, 0, 0, 0, 0)
#define R2(n, a, b) rsys6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define R3(n, a, b, c) rsys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define R4(n, a, b, c, d) rsys6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define R5(n, a, b, c, d, e) \
    rsys6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

/* The plan's opcodes: hull/runtime/initplan.py has the same table. */
enum {
    OP_END = 0,
    OP_INIT = 1,
    OP_CLOSE = 2,
    OP_PRCTL = 3,
    OP_SETNS = 4,
    OP_MARK = 5,
    OP_SEND = 6,
    OP_EXPECT = 7,
    OP_KEYRING = 8,
    OP_HOSTNAME = 9,
    OP_DOMAINNAME = 10,
    OP_RLIMIT = 11,
    OP_FAIL = 12,
    OP_UMASK_SAVE = 13,
    OP_UMASK_RESTORE = 14,
    OP_MOUNT = 15,
    OP_ROOTFD = 16,
    OP_ROOTFD_CLOSE = 17,
    OP_JOIN = 18,
    OP_BIND_SRC = 19,
    OP_MAKE_TARGET = 20,
    OP_MOUNT_PINNED = 21,
    OP_CGROUP_JOIN = 22,
    OP_CGROUP_V1 = 23,
    OP_DEV_DIR = 24,
    OP_DEVICE = 25,
    OP_DEV_LINKS = 26,
    OP_PTMX = 27,
    OP_CWD = 28,
    OP_PIVOT = 29,
    OP_SYSCTL = 30,
    OP_MASK = 31,
    OP_ROPATH = 32,
    OP_LOOKUP = 33,
    OP_CHECK_EXEC = 34,
    OP_SETSID = 35,
    OP_FIFO = 36,
    OP_HOME = 37,
    OP_CHDIR = 38,
    OP_EXEC_PATH = 39,
    OP_DEFAULT_SIGNALS = 40,
    OP_CLOEXEC_FROM = 41,
    OP_TRAMPOLINE = 42,
    OP_SECCOMP = 43,
    OP_CAPBSET = 44,
    OP_IDENTITY = 45,
    OP_CAPS = 46,
    OP_UMASK = 47,
    OP_EXEC = 48,
    OP_ARENA_MARK = 49,
    OP_ARENA_RESET = 50,
};

/* hull/runtime/sync.py */
#define SYNC_ERROR 7

#define NSLOTS 4
#define PATHBUF 4096        /* readlink's buffer, as os.readlink */
#define MAX_HOPS_BYTES (256 * (PATHBUF + 2))
#define MAX_ARG_STRLEN (32 * 4096) /* one execve string, NUL included */

struct kstat_lite {
    unsigned long dev, ino;
    unsigned int mode;
};

/* The child's whole state: lives in the arena's header page, not in the .so */
struct child {
    const unsigned char *ip, *end; /* the plan, read forward */
    char *top, *limit;             /* bump allocator over the arena */
    int rfd, wfd, root_fd, trace, old_umask, tramp, last_cap, src_is_dir;
    const char *rootfs;
    size_t rootfs_len;
    char *slot[NSLOTS];
    char **dirs;     /* device parent directories, resolved once (devnodes' dirs) */
    int *dir_setgid;
    int ndirs;
    char *path;      /* the program found by lookup, or NULL */
    char *home;      /* HOME from the container's /etc/passwd, or NULL */
    int home_too_long;
    char *saved_top; /* OP_ARENA_MARK */
    volatile int ctid; /* CLONE_CHILD_CLEARTID: 0 once we left the parent's mm */
};

/* ---- small helpers (no libc calls) -------------------------------------- */

static size_t
ie_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static void
ie_copy(char *d, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        d[i] = s[i];
}

static int
ie_streq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static int
ie_starts(const char *s, const char *prefix)
{
    while (*prefix)
        if (*s++ != *prefix++)
            return 0;
    return 1;
}

static int
ie_has(const char *s, char ch)
{
    for (; *s; s++)
        if (*s == ch)
            return 1;
    return 0;
}

static __attribute__((noreturn)) void
ie_exit(int code)
{
    for (;;) {
        R1(SYS_exit_group, code);
        R1(SYS_exit, code);
    }
}

static void
write_all_once(int fd, const char *buf, size_t len)
{
    R3(SYS_write, fd, buf, len);
}

/* Arena: the parent mapped it; nothing here is ever freed but by a reset. */
static char *
ie_alloc(struct child *c, size_t n)
{
    char *p = c->top;
    n = (n + 15) & ~(size_t)15;
    if (n > (size_t)(c->limit - c->top)) {
        static const char text[] = "hull-runtime: init: out of scratch memory\n";
        write_all_once(2, text, sizeof(text) - 1);
        ie_exit(1);
    }
    c->top += n;
    return p;
}

/* a growing string at the arena's top (one at a time) */
struct sb {
    char *p;
    size_t len, cap;
};

static void
sb_begin(struct child *c, struct sb *b)
{
    (void)ie_alloc(c, 1); /* dies if the arena is exhausted */
    c->top -= 16;
    b->p = c->top;
    b->len = 0;
    b->cap = (size_t)(c->limit - c->top);
    b->p[0] = 0;
}

static void
sb_addn(struct sb *b, const char *s, size_t n)
{
    if (n > b->cap - b->len - 1)
        n = b->cap - b->len - 1;
    ie_copy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void
sb_add(struct sb *b, const char *s)
{
    sb_addn(b, s, ie_strlen(s));
}

static void
sb_uint(struct sb *b, unsigned long v)
{
    char d[24];
    int n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        sb_addn(b, &d[--n], 1);
}

static void
sb_int(struct sb *b, long v)
{
    if (v < 0) {
        sb_addn(b, "-", 1);
        sb_uint(b, (unsigned long)(-(v + 1)) + 1);
    } else {
        sb_uint(b, (unsigned long)v);
    }
}

/* claim the built string: later allocations go above it */
static char *
sb_end(struct child *c, struct sb *b)
{
    (void)ie_alloc(c, b->len + 1);
    return b->p;
}

/* Python's OSError.strerror: glibc's untranslated text (LC_MESSAGES is C there) */
static void
sb_strerror(struct sb *b, long err)
{
    const char *s = strerrordesc_np((int)err);
    if (s != NULL) {
        sb_add(b, s);
    } else {
        sb_add(b, "Unknown error ");
        sb_int(b, err);
    }
}

/* ---- reporting, as init.main/_report ------------------------------------ */

static void
trace_mark(struct child *c, const char *label)
{
    struct timespec ts;
    struct sb b;
    unsigned long centi;
    char *mark = c->top;
    if (!c->trace)
        return;
    R2(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    centi = ((unsigned long)ts.tv_sec * 1000000000UL + (unsigned long)ts.tv_nsec + 5000) / 10000;
    sb_begin(c, &b);
    sb_uint(&b, centi / 100);
    sb_add(&b, ".");
    sb_addn(&b, &"0123456789"[(centi / 10) % 10], 1);
    sb_addn(&b, &"0123456789"[centi % 10], 1);
    sb_add(&b, " ");
    sb_int(&b, R0(SYS_getpid));
    sb_add(&b, " ");
    sb_add(&b, label);
    sb_add(&b, "\n");
    write_all_once(2, b.p, b.len);
    c->top = mark;
}

/*
 * init._report + os._exit: an ERROR message "<code>:<msg>" on the sync pipe,
 * or "hull-runtime: <msg>" on stderr when there is no pipe or writing fails.
 */
static __attribute__((noreturn)) void
report(struct child *c, int code, const char *msg, size_t len)
{
    if (c->wfd >= 0) {
        struct sb b;
        size_t off = 0, plen;
        int ok = 1;
        sb_begin(c, &b);
        sb_addn(&b, "\x07\0\0\0\0", 5);
        sb_int(&b, code);
        sb_add(&b, ":");
        sb_addn(&b, msg, len);
        plen = b.len - 5;
        b.p[0] = SYNC_ERROR;
        b.p[1] = (char)(plen & 0xff);
        b.p[2] = (char)((plen >> 8) & 0xff);
        b.p[3] = (char)((plen >> 16) & 0xff);
        b.p[4] = (char)((plen >> 24) & 0xff);
        while (off < b.len) {
            long n = R3(SYS_write, c->wfd, b.p + off, b.len - off);
            if (n == -EINTR)
                continue;
            if (n < 0) {
                ok = 0;
                break;
            }
            off += (size_t)n;
        }
        if (ok)
            ie_exit(code);
    }
    {
        struct sb b;
        sb_begin(c, &b);
        sb_add(&b, "hull-runtime: ");
        sb_addn(&b, msg, len);
        sb_add(&b, "\n");
        write_all_once(2, b.p, b.len);
    }
    ie_exit(code);
}

/* an OSError reaching init.main: "<strerror>: <filename>" (or no filename), exit 1 */
static __attribute__((noreturn)) void
fail_os(struct child *c, long err, const char *filename)
{
    struct sb b;
    sb_begin(c, &b);
    sb_strerror(&b, err);
    if (filename != NULL && filename[0]) { /* init._describe: `if exc.filename` */
        sb_add(&b, ": ");
        sb_add(&b, filename);
    }
    sb_end(c, &b);
    report(c, 1, b.p, b.len);
}

/* a message the planner worded, around strerror: prefix + strerror + suffix */
static __attribute__((noreturn)) void
fail_wrap(struct child *c, int code, const char *prefix, long err, const char *suffix)
{
    struct sb b;
    sb_begin(c, &b);
    sb_add(&b, prefix);
    sb_strerror(&b, err);
    if (suffix != NULL)
        sb_add(&b, suffix);
    sb_end(c, &b);
    report(c, code, b.p, b.len);
}

/* 'exec: "<argv0>": <what>' with an exit code, as process.py words them */
static __attribute__((noreturn)) void
fail_exec(struct child *c, int code, const char *argv0, const char *a, const char *bb)
{
    struct sb b;
    sb_begin(c, &b);
    sb_add(&b, "exec: \"");
    sb_add(&b, argv0);
    sb_add(&b, "\": ");
    sb_add(&b, a);
    if (bb != NULL)
        sb_add(&b, bb);
    sb_end(c, &b);
    report(c, code, b.p, b.len);
}

/* sync.ProtocolError: init.main exits 1 without a word */
static __attribute__((noreturn)) void
protocol_error(void)
{
    ie_exit(1);
}

static __attribute__((noreturn)) void
corrupt_plan(void)
{
    static const char text[] = "hull-runtime: init: corrupt plan\n";
    write_all_once(2, text, sizeof(text) - 1);
    ie_exit(1);
}

/* ---- reading the plan --------------------------------------------------- */

static uint64_t
rd_u64(struct child *c)
{
    uint64_t v = 0;
    int i;
    if (c->end - c->ip < 8)
        corrupt_plan();
    for (i = 7; i >= 0; i--)
        v = (v << 8) | c->ip[i];
    c->ip += 8;
    return v;
}

static long
rd_int(struct child *c)
{
    return (long)rd_u64(c);
}

/* a string of the plan (NUL-terminated there), or NULL for None */
static const char *
rd_str_n(struct child *c, size_t *lenp)
{
    uint32_t n;
    const char *s;
    if (c->end - c->ip < 4)
        corrupt_plan();
    n = (uint32_t)c->ip[0] | ((uint32_t)c->ip[1] << 8) | ((uint32_t)c->ip[2] << 16) |
        ((uint32_t)c->ip[3] << 24);
    c->ip += 4;
    if (n == 0xffffffffu) {
        if (lenp)
            *lenp = 0;
        return NULL;
    }
    if ((size_t)(c->end - c->ip) < (size_t)n + 1 || c->ip[n] != 0)
        corrupt_plan();
    s = (const char *)c->ip;
    c->ip += (size_t)n + 1;
    if (lenp)
        *lenp = n;
    return s;
}

static const char *
rd_str(struct child *c)
{
    return rd_str_n(c, NULL);
}

/* a list of strings as a NULL-terminated array in the arena, with room for extra slots */
static const char **
rd_list(struct child *c, size_t extra, size_t *countp)
{
    size_t n = (size_t)rd_u64(c), i;
    const char **out;
    if (n > (size_t)(c->end - c->ip))
        corrupt_plan();
    out = (const char **)ie_alloc(c, (n + extra + 1) * sizeof(char *));
    for (i = 0; i < n; i++)
        out[i] = rd_str(c);
    out[n] = NULL;
    if (countp)
        *countp = n;
    return out;
}

/* ---- filesystem helpers mirroring fastos / rootfs ----------------------- */

static long
ie_stat(const char *p, struct kstat_lite *st, int follow)
{
    struct stat s;
    long r = R4(SYS_newfstatat, AT_FDCWD, p, &s, follow ? 0 : AT_SYMLINK_NOFOLLOW);
    if (r == 0 && st != NULL) {
        st->dev = (unsigned long)s.st_dev;
        st->ino = (unsigned long)s.st_ino;
        st->mode = (unsigned int)s.st_mode;
    }
    return r;
}

static int
is_dir(const char *p) /* os.path.isdir */
{
    struct kstat_lite st;
    return ie_stat(p, &st, 1) == 0 && S_ISDIR(st.mode);
}

static int
lexists(const char *p) /* os.path.lexists */
{
    return ie_stat(p, NULL, 0) == 0;
}

static int
is_link(const char *p) /* os.path.islink */
{
    struct kstat_lite st;
    return ie_stat(p, &st, 0) == 0 && S_ISLNK(st.mode);
}

static char *
ie_dup(struct child *c, const char *s, size_t n)
{
    char *p = ie_alloc(c, n + 1);
    ie_copy(p, s, n);
    p[n] = 0;
    return p;
}

static char *
ie_cat(struct child *c, const char *a, const char *b, const char *d)
{
    struct sb s;
    sb_begin(c, &s);
    sb_add(&s, a);
    if (b)
        sb_add(&s, b);
    if (d)
        sb_add(&s, d);
    return sb_end(c, &s);
}

/* fastos.path.dirname */
static char *
ie_dirname(struct child *c, const char *p)
{
    size_t n = ie_strlen(p), cut = 0, i, allslash = 1;
    for (i = 0; i < n; i++)
        if (p[i] == '/')
            cut = i + 1;
    for (i = 0; i < cut; i++)
        if (p[i] != '/')
            allslash = 0;
    if (cut && !allslash)
        while (cut > 0 && p[cut - 1] == '/')
            cut--;
    return ie_dup(c, p, cut);
}

/*
 * fastos.makedirs(name, mode, exist_ok): 0, or -errno with *errpath set to
 * the path the failing mkdir named (the OSError's filename).
 */
static long
makedirs(struct child *c, const char *name, unsigned int mode, int exist_ok, const char **errpath)
{
    long r = R3(SYS_mkdirat, AT_FDCWD, name, mode);
    if (r == 0)
        return 0;
    if (r == -ENOENT) {
        /* parent = dirname(name.rstrip("/")) */
        size_t n = ie_strlen(name);
        char *stripped, *parent;
        long pr;
        while (n > 0 && name[n - 1] == '/')
            n--;
        stripped = ie_dup(c, name, n);
        parent = ie_dirname(c, stripped);
        if (!parent[0] || ie_streq(parent, name)) {
            *errpath = name;
            return r;
        }
        pr = makedirs(c, parent, mode, 1, errpath);
        if (pr < 0)
            return pr;
    } else if (r == -EEXIST) {
        if (exist_ok && is_dir(name))
            return 0;
        *errpath = name;
        return r;
    } else {
        *errpath = name;
        return r;
    }
    r = R3(SYS_mkdirat, AT_FDCWD, name, mode);
    if (r == -EEXIST) {
        if (!(exist_ok && is_dir(name))) {
            *errpath = name;
            return r;
        }
        return 0;
    }
    if (r < 0) {
        *errpath = name;
        return r;
    }
    return 0;
}

/* rootfs._mkdir_all: makedirs(0o755, exist_ok) where a FileExistsError passes */
static void
mkdir_all(struct child *c, const char *path)
{
    const char *ep = NULL;
    long r = makedirs(c, path, 0755, 1, &ep);
    if (r < 0 && r != -EEXIST)
        fail_os(c, -r, ep);
}

/*
 * rootfs.secure_join(root, unsafe): resolve unsafe as if root were "/".
 * What is left to walk sits at the end of a buffer and a symlink's target
 * is put in front of it (the queue of the Python); readlink gives at most
 * 4096 bytes and 255 hops are allowed, which bounds the buffers.
 */
static char *
secure_join(struct child *c, const char *unsafe, const char *toomany)
{
    size_t rootlen = c->rootfs_len, ulen = ie_strlen(unsafe), cap, rlen = 0;
    char *mark, *pend, *rest, *resolved, *cand, *out, *link;
    const char *root = c->rootfs;
    char slash_root[2] = "/";
    int hops = 0;
    while (rootlen > 0 && root[rootlen - 1] == '/')
        rootlen--;
    if (rootlen == 0) {
        root = slash_root;
        rootlen = 1;
    }
    mark = c->top;
    cap = ulen + MAX_HOPS_BYTES + 2;
    pend = ie_alloc(c, cap);
    resolved = ie_alloc(c, cap);
    cand = ie_alloc(c, rootlen + cap + 2);
    link = ie_alloc(c, PATHBUF + 1);
    rest = pend + cap - ulen;
    ie_copy(rest, unsafe, ulen);
    while (rest < pend + cap) {
        const char *part = rest;
        size_t plen = 0, pos;
        struct kstat_lite st;
        while (rest + plen < pend + cap && rest[plen] != '/')
            plen++;
        rest += plen;
        if (rest < pend + cap)
            rest++; /* the '/' */
        if (plen == 0 || (plen == 1 && part[0] == '.'))
            continue;
        if (plen == 2 && part[0] == '.' && part[1] == '.') {
            while (rlen > 0 && resolved[rlen - 1] != '/')
                rlen--;
            if (rlen > 0)
                rlen--;
            continue;
        }
        /* cand = root + "/" + "/".join([*resolved, part]) */
        ie_copy(cand, root, rootlen);
        pos = rootlen;
        cand[pos++] = '/';
        ie_copy(cand + pos, resolved, rlen);
        pos += rlen;
        if (rlen)
            cand[pos++] = '/';
        ie_copy(cand + pos, part, plen);
        pos += plen;
        cand[pos] = 0;
        if (ie_stat(cand, &st, 0) == 0 && S_ISLNK(st.mode)) {
            long n;
            if (++hops > 255) {
                size_t tl = ie_strlen(toomany);
                c->top = mark;
                report(c, 1, toomany, tl);
            }
            n = R4(SYS_readlinkat, AT_FDCWD, cand, link, PATHBUF);
            if (n < 0)
                fail_os(c, -n, cand);
            if (n > 0 && link[0] == '/')
                rlen = 0;
            /* the target's components go in front of what is left */
            rest -= (size_t)n + 1;
            ie_copy(rest, link, (size_t)n);
            rest[n] = '/';
            continue;
        }
        if (rlen)
            resolved[rlen++] = '/';
        ie_copy(resolved + rlen, part, plen);
        rlen += plen;
    }
    /*
     * root + "/" + "/".join(resolved) if resolved else root. The result
     * goes where the work buffers were: it starts where pend did, a whole
     * buffer below resolved, so copying forward never overwrites a byte
     * of resolved before it is read.
     */
    c->top = mark;
    out = ie_alloc(c, rootlen + rlen + 2);
    ie_copy(out, root, rootlen);
    if (rlen) {
        out[rootlen] = '/';
        ie_copy(out + rootlen + 1, resolved, rlen);
        out[rootlen + 1 + rlen] = 0;
    } else {
        out[rootlen] = 0;
    }
    return out;
}

/* fastos._realpath of an absolute path (symlinks resolved, 40 hops, missing tails kept) */
static char *
realpath_lite(struct child *c, const char *p)
{
    size_t plen = ie_strlen(p), cap = plen + 41 * (PATHBUF + 2) + 2, dlen = 0;
    char *pend = ie_alloc(c, cap), *rest, *done = ie_alloc(c, cap + 2), *link = ie_alloc(c, PATHBUF + 1);
    int hops = 0;
    rest = pend + cap - plen;
    ie_copy(rest, p, plen);
    while (rest < pend + cap) {
        const char *part = rest;
        size_t n = 0, save;
        struct kstat_lite st;
        while (rest + n < pend + cap && rest[n] != '/')
            n++;
        rest += n;
        if (rest < pend + cap)
            rest++;
        if (n == 0 || (n == 1 && part[0] == '.'))
            continue;
        if (n == 2 && part[0] == '.' && part[1] == '.') {
            /* done = done.rsplit("/", 1)[0] */
            while (dlen > 0 && done[dlen - 1] != '/')
                dlen--;
            if (dlen > 0)
                dlen--;
            continue;
        }
        save = dlen;
        done[dlen++] = '/';
        ie_copy(done + dlen, part, n);
        dlen += n;
        done[dlen] = 0;
        if (ie_stat(done, &st, 0) != 0 || !S_ISLNK(st.mode))
            continue;
        if (++hops > 40)
            continue; /* a loop: kept as it is */
        {
            long r = R4(SYS_readlinkat, AT_FDCWD, done, link, PATHBUF);
            if (r < 0)
                fail_os(c, -r, done);
            dlen = (r > 0 && link[0] == '/') ? 0 : save;
            rest -= (size_t)r + 1;
            ie_copy(rest, link, (size_t)r);
            rest[r] = '/';
        }
    }
    if (dlen == 0)
        done[dlen++] = '/';
    done[dlen] = 0;
    return done;
}

/* dest == rootfs or dest.startswith(base + "/"), base = rootfs.rstrip("/") */
static int
under_rootfs(struct child *c, const char *p)
{
    size_t blen = c->rootfs_len, i;
    while (blen > 0 && c->rootfs[blen - 1] == '/')
        blen--;
    if (ie_streq(p, c->rootfs))
        return 1;
    for (i = 0; i < blen; i++)
        if (p[i] != c->rootfs[i])
            return 0;
    return p[blen] == '/';
}

/* rootfs._check_inside: refuse dest unless it still resolves inside the rootfs */
static void
check_inside(struct child *c, const char *dest, const char *what)
{
    size_t blen = c->rootfs_len;
    char *mark = c->top, *real;
    while (blen > 0 && c->rootfs[blen - 1] == '/')
        blen--;
    if (under_rootfs(c, dest)) {
        /* the fast path: lstat each component below the rootfs; done unless
           one is a symlink (or a ".."), which the full resolution decides */
        const char *s = ie_strlen(dest) > blen ? dest + blen + 1 : "";
        size_t plen = blen;
        char *p = ie_alloc(c, ie_strlen(dest) + 2);
        int broke = 0;
        ie_copy(p, c->rootfs, blen);
        p[plen] = 0;
        for (;;) {
            const char *part = s;
            size_t n = 0;
            struct kstat_lite st;
            while (s[n] && s[n] != '/')
                n++;
            s += n;
            if (!(n == 0 || (n == 1 && part[0] == '.'))) {
                if (n == 2 && part[0] == '.' && part[1] == '.') {
                    broke = 1;
                    break;
                }
                p[plen++] = '/';
                ie_copy(p + plen, part, n);
                plen += n;
                p[plen] = 0;
                if (ie_stat(p, &st, 0) != 0) {
                    c->top = mark;
                    return;
                }
                if (S_ISLNK(st.mode)) {
                    broke = 1;
                    break;
                }
            }
            if (!*s)
                break;
            s++;
        }
        if (!broke) {
            c->top = mark;
            return;
        }
    }
    real = realpath_lite(c, dest);
    if (!under_rootfs(c, real)) {
        struct sb b;
        sb_begin(c, &b);
        sb_add(&b, "mount destination ");
        sb_add(&b, what);
        sb_add(&b, " resolves outside the rootfs (");
        sb_add(&b, real);
        sb_add(&b, ")");
        sb_end(c, &b);
        report(c, 1, b.p, b.len);
    }
    c->top = mark;
}

/* rootfs._pin: dest opened O_PATH by the kernel's resolution inside the rootfs, or -1 */
static int
pin(struct child *c, const char *dest, const char *what)
{
    struct {
        uint64_t flags, mode, resolve;
    } how;
    size_t blen = c->rootfs_len;
    const char *rel;
    long fd;
    if (c->root_fd < 0) {
        check_inside(c, dest, what);
        return -1;
    }
    while (blen > 0 && c->rootfs[blen - 1] == '/')
        blen--;
    rel = dest + blen;
    if (!*rel)
        rel = "/";
    how.flags = O_PATH | O_CLOEXEC;
    how.mode = 0;
    how.resolve = 0x10 | 0x02; /* RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS */
    fd = R4(SYS_openat2, c->root_fd, rel, &how, sizeof(how));
    if (fd >= 0)
        return (int)fd;
    if (fd != -ENOSYS)
        fail_wrap(c, 1, ie_cat(c, "mount destination ", what, ": "), -fd, NULL);
    /* before Linux 5.6: like the Python, forget the root fd (it stays open) and re-check */
    c->root_fd = -1;
    check_inside(c, dest, what);
    return -1;
}

static char *
fd_path(struct child *c, long fd)
{
    struct sb b;
    sb_begin(c, &b);
    sb_add(&b, "/proc/self/fd/");
    sb_int(&b, fd);
    return sb_end(c, &b);
}

/* ---- sync protocol (sync.send / sync.expect) ---------------------------- */

static void
send_msg(struct child *c, int kind)
{
    char msg[5] = {(char)kind, 0, 0, 0, 0};
    size_t off = 0;
    while (off < 5) {
        long n = R3(SYS_write, c->wfd, msg + off, 5 - off);
        if (n == -EINTR)
            continue;
        if (n < 0)
            fail_os(c, -n, NULL);
        off += (size_t)n;
    }
}

static size_t
read_exact(struct child *c, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        long r = R3(SYS_read, c->rfd, buf + got, n - got);
        if (r == -EINTR)
            continue;
        if (r < 0)
            fail_os(c, -r, NULL);
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return got;
}

/* InitError.from_payload, for a plain decimal code (the parent never sends ERROR) */
static __attribute__((noreturn)) void
parent_error(struct child *c, const char *p, size_t n)
{
    size_t i = 0, colon = n;
    long code = 0;
    int neg = 0, digits = 0;
    for (i = 0; i < n; i++)
        if (p[i] == ':') {
            colon = i;
            break;
        }
    i = 0;
    if (i < colon && (p[i] == '-' || p[i] == '+'))
        neg = p[i++] == '-';
    for (; i < colon && p[i] >= '0' && p[i] <= '9' && digits < 9; i++, digits++)
        code = code * 10 + (p[i] - '0');
    if (!digits || i != colon)
        report(c, 1, p, n);
    if (colon == n)
        report(c, (int)(neg ? -code : code), "", 0);
    report(c, (int)(neg ? -code : code), p + colon + 1, n - colon - 1);
}

static void
expect_msg(struct child *c, int kind)
{
    unsigned char head[5];
    size_t size;
    if (read_exact(c, (char *)head, 5) < 5)
        protocol_error();
    size = (size_t)head[1] | ((size_t)head[2] << 8) | ((size_t)head[3] << 16) |
           ((size_t)head[4] << 24);
    if (head[0] == SYNC_ERROR) {
        char *p;
        if (size > (size_t)(c->limit - c->top) / 2)
            protocol_error();
        p = ie_alloc(c, size + 1);
        if (read_exact(c, p, size) < size)
            protocol_error();
        parent_error(c, p, size);
    }
    /* a payload (GO_SETUP's hook state) is for hooks this path never runs */
    while (size > 0) {
        char buf[512];
        size_t n = size < sizeof(buf) ? size : sizeof(buf);
        if (read_exact(c, buf, n) < n)
            protocol_error();
        size -= n;
    }
    if (head[0] != kind)
        protocol_error();
}

/* ---- UTF-8 as Python decodes it with errors="replace" ------------------- */

/*
 * One step of the decoder: the bytes consumed (0: more data needed, only
 * when !eof) and the code point, U+FFFD for each maximal invalid subpart,
 * as CPython's decoder does.
 */
static size_t
utf8_step(const unsigned char *s, size_t n, int eof, unsigned int *cp)
{
    unsigned char b = s[0], lo = 0x80, hi = 0xBF;
    size_t need, j, k;
    unsigned int v;
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b >= 0xC2 && b <= 0xDF) {
        need = 1;
        v = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        v = b & 0x0F;
        if (b == 0xE0)
            lo = 0xA0;
        if (b == 0xED)
            hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        v = b & 0x07;
        if (b == 0xF0)
            lo = 0x90;
        if (b == 0xF4)
            hi = 0x8F;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    for (k = 0, j = 1; k < need; k++, j++) {
        unsigned char x;
        if (j >= n) {
            if (!eof)
                return 0;
            break;
        }
        x = s[j];
        if (k == 0 ? (x < lo || x > hi) : (x < 0x80 || x > 0xBF))
            break;
        v = (v << 6) | (x & 0x3F);
    }
    *cp = k == need ? v : 0xFFFD;
    return j;
}

static size_t
utf8_put(unsigned int cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* bytes.decode("utf-8", "replace").encode(): what os.stat() gets from such a str */
static size_t
utf8_replace(const unsigned char *s, size_t n, char *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        unsigned int cp;
        i += utf8_step(s + i, n - i, 1, &cp);
        o += utf8_put(cp, out + o);
    }
    out[o] = 0;
    return o;
}

/* ---- the program (process.lookup / check_executable / home_of) ---------- */

/* process.lookup: like execvp, inside the (already switched) root */
static char *
lookup(struct child *c, const char *argv0, const char *pathenv)
{
    char *denied = NULL;
    const char *d = pathenv;
    if (ie_has(argv0, '/'))
        return (char *)argv0;
    for (;;) {
        const char *e = d;
        struct sb b;
        char *cand;
        struct kstat_lite st;
        while (*e && *e != ':')
            e++;
        /* os.path.join(d or ".", argv0) */
        sb_begin(c, &b);
        if (e == d)
            sb_add(&b, ".");
        else
            sb_addn(&b, d, (size_t)(e - d));
        if (b.p[b.len - 1] != '/')
            sb_add(&b, "/");
        sb_add(&b, argv0);
        cand = sb_end(c, &b);
        if (ie_stat(cand, &st, 1) == 0 && S_ISREG(st.mode)) {
            if (R4(SYS_faccessat, AT_FDCWD, cand, X_OK, 0) == 0)
                return cand;
            denied = cand;
        }
        if (!*e)
            break;
        d = e + 1;
    }
    if (denied)
        return denied;
    fail_exec(c, 127, argv0, "executable file not found in $PATH", NULL);
}

static int
is_space(unsigned char ch) /* what bytes.split() splits on */
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == 0x0b || ch == 0x0c;
}

/* process.check_executable: fail at create for a program that cannot run */
static void
check_executable(struct child *c, const char *path, const char *argv0)
{
    struct stat fst;
    struct kstat_lite me = {0, 0, 0}, it = {0, 0, 0};
    int have_me, round;
    unsigned char head[256];
    long fd, n;
    char *mark = c->top;
    fd = R4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
    if (fd == -ENOENT) {
        struct sb b;
        sb_begin(c, &b);
        sb_add(&b, "exec: \"");
        sb_add(&b, argv0);
        sb_add(&b, "\": stat ");
        sb_add(&b, path);
        sb_add(&b, ": no such file or directory");
        sb_end(c, &b);
        report(c, 127, b.p, b.len);
    }
    if (fd == -EACCES || fd == -EPERM)
        fail_exec(c, 126, argv0, "permission denied", NULL);
    if (fd == -EISDIR)
        fail_exec(c, 126, argv0, "is a directory", NULL);
    if (fd < 0)
        fail_os(c, -fd, path);
    /* (an error below leaves fd open where the Python closes it: exit does) */
    n = R2(SYS_fstat, fd, &fst);
    if (n < 0)
        fail_os(c, -n, NULL);
    have_me = ie_stat("/proc/self/exe", &me, 1) == 0;
    if (have_me && me.dev == (unsigned long)fst.st_dev && me.ino == (unsigned long)fst.st_ino)
        fail_exec(c, 126, argv0, "refusing to run the runtime itself", NULL);
    if (!S_ISREG(fst.st_mode))
        fail_exec(c, 126, argv0, "not a regular file", NULL);
    if (R4(SYS_faccessat, AT_FDCWD, path, X_OK, 0) != 0)
        fail_exec(c, 126, argv0, "permission denied", NULL);
    n = R3(SYS_read, fd, head, sizeof(head));
    R1(SYS_close, fd);
    if (n < 0)
        fail_os(c, -n, NULL);
    /* the kernel follows #! interpreters five deep; an unreadable one ends the walk */
    for (round = 0; round < 5; round++) {
        size_t len = (size_t)n, i, start, stop, il;
        char *interp;
        if (len < 2 || head[0] != '#' || head[1] != '!')
            break;
        /* the first word of head[2:], cut at a newline, then at a NUL */
        stop = 2;
        while (stop < len && head[stop] != '\n' && head[stop] != 0)
            stop++;
        start = 2;
        while (start < stop && is_space(head[start]))
            start++;
        if (start == stop)
            break;
        i = start;
        while (i < stop && !is_space(head[i]))
            i++;
        interp = ie_alloc(c, (i - start) * 3 + 1);
        il = utf8_replace(head + start, i - start, interp);
        if (ie_starts(interp, "/proc/") && il >= 4 && ie_streq(interp + il - 4, "/exe"))
            fail_exec(c, 126, argv0, "refusing a script interpreted by ",
                      ie_cat(c, interp, " (runtime escape)", NULL));
        if (ie_stat(interp, &it, 1) != 0)
            break;
        if (have_me && me.dev == it.dev && me.ino == it.ino)
            fail_exec(c, 126, argv0, "interpreter is the runtime itself", NULL);
        fd = R4(SYS_openat, AT_FDCWD, interp, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0)
            break;
        n = R3(SYS_read, fd, head, sizeof(head));
        R1(SYS_close, fd);
        if (n < 0)
            break;
    }
    c->top = mark;
}

/*
 * process.home_of(uid): field 6 of the first line of the container's
 * /etc/passwd whose field 3 is str(uid), else "/" (also on any read error).
 * The Python reads the file whole, decodes it (UTF-8, replace) and splits
 * it with str.splitlines; this streams it through the same decoder and the
 * same line ends. A home longer than one execve string may be is only
 * remembered as such: the exec then fails with E2BIG, as it would.
 */
struct pw {
    char uid[24];
    size_t uidlen, f2len, curlen;
    int field, f2ok, found, after_cr, curlong;
    char *cur; /* field 6 of the current line, then the home found */
};

static int
line_break(unsigned int cp)
{
    return cp == '\n' || cp == '\r' || cp == 0x0b || cp == 0x0c || cp == 0x1c || cp == 0x1d ||
           cp == 0x1e || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

static void
pw_endline(struct pw *s)
{
    if (!s->found && s->field >= 5 && s->f2ok && s->f2len == s->uidlen) {
        s->found = 1;
        return;
    }
    s->field = 0;
    s->f2len = 0;
    s->f2ok = 1;
    s->curlen = 0;
    s->curlong = 0;
}

static void
pw_feed(struct pw *s, unsigned int cp)
{
    char enc[4];
    size_t n;
    if (s->found)
        return;
    if (s->after_cr && cp == '\n') { /* "\r\n" ends one line */
        s->after_cr = 0;
        return;
    }
    s->after_cr = cp == '\r';
    if (line_break(cp)) {
        pw_endline(s);
        return;
    }
    if (cp == ':') {
        s->field++;
        return;
    }
    n = utf8_put(cp, enc);
    if (s->field == 2) {
        if (s->f2ok && n == 1 && s->f2len < s->uidlen && s->uid[s->f2len] == enc[0])
            s->f2len++;
        else
            s->f2ok = 0;
    } else if (s->field == 5) {
        if (s->curlen + n > MAX_ARG_STRLEN)
            s->curlong = 1;
        else {
            ie_copy(s->cur + s->curlen, enc, n);
            s->curlen += n;
        }
    }
}

static void
home_of(struct child *c, unsigned long uid)
{
    enum { CHUNK = 65536 };
    struct pw s;
    struct sb b;
    char *buf, *mark;
    size_t keep = 0;
    long fd;
    int i, nd = 0, error = 0;
    char digits[24];
    do {
        digits[nd++] = (char)('0' + uid % 10);
        uid /= 10;
    } while (uid);
    for (i = 0; i < nd; i++)
        s.uid[i] = digits[nd - 1 - i];
    s.uidlen = (size_t)nd;
    s.field = s.found = s.after_cr = s.curlong = 0;
    s.f2len = s.curlen = 0;
    s.f2ok = 1;
    s.cur = ie_alloc(c, MAX_ARG_STRLEN + 1);
    mark = c->top;
    buf = ie_alloc(c, CHUNK + 8);
    fd = R4(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        error = 1;
    } else {
        for (;;) {
            long r = R3(SYS_read, fd, buf + keep, CHUNK);
            size_t len, at = 0;
            if (r == -EINTR)
                continue;
            if (r < 0) {
                error = 1;
                break;
            }
            len = keep + (size_t)r;
            while (at < len) {
                unsigned int cp;
                size_t used = utf8_step((unsigned char *)buf + at, len - at, r == 0, &cp);
                if (used == 0)
                    break;
                pw_feed(&s, cp);
                at += used;
            }
            keep = len - at;
            ie_copy(buf, buf + at, keep);
            if (r == 0)
                break;
        }
        R1(SYS_close, fd);
    }
    if (!error)
        pw_feed(&s, '\n'); /* the last line, if it had no end */
    c->top = mark;
    sb_begin(c, &b);
    sb_add(&b, "HOME=");
    if (error || !s.found || (s.curlen == 0 && !s.curlong)) {
        sb_add(&b, "/");
    } else if (s.curlong) {
        c->home_too_long = 1;
    } else {
        sb_addn(&b, s.cur, s.curlen);
    }
    c->home = sb_end(c, &b);
}

/* ---- exec: fds, trampoline ---------------------------------------------- */

/* process._cloexec_from: close_range, else each fd listed in /proc/self/fd */
static void
cloexec_from(struct child *c, unsigned int first)
{
    char *mark = c->top, *buf;
    long fd, n;
    size_t used = 0, cap = 1 << 20, at;
    if (R3(SYS_close_range, first, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) == 0)
        return;
    fd = R4(SYS_openat, AT_FDCWD, "/proc/self/fd",
            O_RDONLY | O_NONBLOCK | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0)
        fail_os(c, -fd, "/proc/self/fd");
    buf = ie_alloc(c, cap);
    /* listdir reads it all first, then the Python marks each */
    while ((n = R3(SYS_getdents64, fd, buf + used, cap - used)) > 0)
        used += (size_t)n;
    R1(SYS_close, fd);
    if (n < 0)
        fail_os(c, -n, "/proc/self/fd");
    for (at = 0; at < used;) {
        unsigned short reclen = *(unsigned short *)(buf + at + 16);
        const char *name = buf + at + 19;
        long v = 0;
        int ok = *name != 0;
        const char *q;
        for (q = name; *q; q++) {
            if (*q < '0' || *q > '9')
                ok = 0;
            else
                v = v * 10 + (*q - '0');
        }
        if (ok && v >= (long)first)
            R3(SYS_fcntl, v, F_SETFD, FD_CLOEXEC);
        at += reclen;
    }
    c->top = mark;
}

static void
mark_errno(struct child *c, const char *prefix, long err, const char *suffix)
{
    struct sb b;
    char *mark = c->top;
    if (!c->trace)
        return;
    sb_begin(c, &b);
    sb_add(&b, prefix);
    sb_add(&b, "[Errno ");
    sb_int(&b, err);
    sb_add(&b, "] ");
    sb_strerror(&b, err);
    sb_add(&b, suffix);
    sb_end(c, &b);
    trace_mark(c, b.p);
    c->top = mark;
}

/* linux.trampoline_memfd (see _sys.c): a sealed memfd of the exec trampoline */
static long
trampoline_memfd(void)
{
    size_t size, off = 0;
    const unsigned char *data = hull_trampoline_data(&size);
    const unsigned int flags = 0x0001U | 0x0002U; /* MFD_CLOEXEC | MFD_ALLOW_SEALING */
    long fd, n;
    if (size == 0)
        return -ENOSYS;
    fd = R2(SYS_memfd_create, "hull-exec", flags | 0x0010U /* MFD_EXEC */);
    if (fd == -EINVAL)
        fd = R2(SYS_memfd_create, "hull-exec", flags);
    if (fd < 0)
        return fd;
    while (off < size) {
        n = R3(SYS_write, fd, data + off, size - off);
        if (n == -EINTR)
            continue;
        if (n <= 0) {
            R1(SYS_close, fd);
            return n < 0 ? n : -EIO;
        }
        off += (size_t)n;
    }
    n = R3(SYS_fcntl, fd, 1033 /* F_ADD_SEALS */, 0x1 | 0x2 | 0x4 | 0x8);
    if (n < 0) {
        R1(SYS_close, fd);
        return n;
    }
    return fd;
}

/* caps.last_cap(): read once, the first time it is needed (the Python caches it) */
static int
last_cap(struct child *c, int fallback)
{
    char buf[32];
    long fd, n, v = 0, i;
    if (c->last_cap >= 0)
        return c->last_cap;
    c->last_cap = fallback;
    fd = R4(SYS_openat, AT_FDCWD, "/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return c->last_cap;
    n = R3(SYS_read, fd, buf, sizeof(buf) - 1);
    R1(SYS_close, fd);
    if (n <= 0)
        return c->last_cap;
    for (i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
        v = v * 10 + (buf[i] - '0');
    if (i > 0 && v <= 63)
        c->last_cap = (int)v;
    return c->last_cap;
}

static uint64_t
cap_filter(uint64_t m, int last)
{
    return last >= 63 ? m : m & ((2ULL << last) - 1);
}

static __attribute__((noreturn)) void
do_exec(struct child *c)
{
    long report_ok = rd_int(c), first = rd_int(c), rfd = -1, err;
    size_t nargs, nenv, i;
    const char **args = rd_list(c, 0, &nargs);
    const char **env = rd_list(c, 1, &nenv);
    const char **targv;
    struct sb b;
    const char *argv0 = args[0];
    if (c->home != NULL) {
        env[nenv] = c->home;
        env[nenv + 1] = NULL;
    }
    if (c->tramp >= 0) {
        long flags = -1, r;
        if (report_ok)
            rfd = c->wfd;
        if (rfd < first)
            rfd = -1;
        /* argv as trampoline.c expects it: magic, report fd, path, the program's argv */
        targv = (const char **)ie_alloc(c, (nargs + 4) * sizeof(char *));
        targv[0] = "hull-exec";
        sb_begin(c, &b);
        sb_int(&b, rfd);
        targv[1] = sb_end(c, &b);
        targv[2] = c->path;
        for (i = 0; i <= nargs; i++)
            targv[3 + i] = args[i];
        /* the report fd is inheritable for this one exec (linux.execveat's keep_fd) */
        r = 0;
        if (rfd >= 0) {
            flags = R2(SYS_fcntl, rfd, F_GETFD);
            r = flags < 0 ? flags : R3(SYS_fcntl, rfd, F_SETFD, flags & ~FD_CLOEXEC);
        }
        if (r == 0) {
            r = c->home_too_long ? -E2BIG
                                 : R5(SYS_execveat, c->tramp, "", targv, env, AT_EMPTY_PATH);
            if (rfd >= 0)
                R3(SYS_fcntl, rfd, F_SETFD, flags);
        }
        mark_errno(c, "exec: no trampoline (", -r, "): plain execve");
        R1(SYS_close, c->tramp); /* close-on-exec anyway */
    }
    err = c->home_too_long ? E2BIG : -R3(SYS_execve, c->path, args, env);
    if (err == EACCES || err == EPERM)
        fail_exec(c, 126, argv0, "permission denied", NULL);
    if (err == ENOENT)
        fail_exec(c, 127, argv0, "no such file or directory", NULL);
    /* worded as the trampoline words it: "exec format error" */
    sb_begin(c, &b);
    sb_add(&b, "exec: \"");
    sb_add(&b, argv0);
    sb_add(&b, "\": ");
    i = b.len;
    sb_strerror(&b, err);
    if (b.p[i] >= 'A' && b.p[i] <= 'Z')
        b.p[i] = (char)(b.p[i] + 32);
    sb_end(c, &b);
    report(c, 126, b.p, b.len);
}

/* ---- the plan's operations ---------------------------------------------- */

struct ksigaction {
    unsigned long handler, flags, restorer;
    uint64_t mask;
};

static void
op_mount_pinned(struct child *c)
{
    long slot = rd_int(c);
    const char *what = rd_str(c), *src = rd_str(c), *fstype = rd_str(c);
    unsigned long flags = (unsigned long)rd_u64(c);
    const char *data = rd_str(c), *prefix = rd_str(c);
    const char *dest = c->slot[slot & (NSLOTS - 1)];
    int fd = pin(c, dest, what);
    const char *target = fd >= 0 ? fd_path(c, fd) : dest;
    long r = R5(SYS_mount, src, target, fstype, flags, data);
    if (fd >= 0)
        R1(SYS_close, fd);
    if (r < 0) {
        if (prefix != NULL)
            fail_wrap(c, 1, prefix, -r, NULL);
        fail_os(c, -r, target);
    }
}

static void
op_make_target(struct child *c)
{
    long slot = rd_int(c), mode = rd_int(c), fd;
    const char *dest = c->slot[slot & (NSLOTS - 1)];
    int dir = mode == 2 ? c->src_is_dir : (int)mode;
    if (lexists(dest))
        return;
    if (dir) {
        mkdir_all(c, dest);
        return;
    }
    mkdir_all(c, ie_dirname(c, dest));
    fd = R4(SYS_openat, AT_FDCWD, dest, O_CREAT | O_WRONLY | O_CLOEXEC, 0755);
    if (fd < 0)
        fail_os(c, -fd, dest);
    R1(SYS_close, fd);
}

static void
op_cgroup_join(struct child *c)
{
    size_t n, i;
    const char **tasks = rd_list(c, 0, &n);
    long unshare_ns = rd_int(c);
    for (i = 0; i < n; i++) {
        /* "0" is the writing thread: a single-threaded move, no threadgroup lock */
        long fd = R4(SYS_openat, AT_FDCWD, tasks[i], O_WRONLY | O_CLOEXEC, 0), w;
        if (fd < 0)
            fail_os(c, -fd, tasks[i]);
        w = R3(SYS_write, fd, "0", 1);
        R1(SYS_close, fd);
        if (w < 0)
            fail_os(c, -w, NULL);
    }
    if (unshare_ns) {
        long r = R1(SYS_unshare, CLONE_NEWCGROUP);
        if (r < 0)
            fail_os(c, -r, NULL);
    }
}

/* rootfs._mount_cgroup's v1 part: each hierarchy into the fresh tmpfs, through the mount */
static void
op_cgroup_v1(struct child *c)
{
    long slot = rd_int(c), n, i, r;
    const char *what = rd_str(c);
    unsigned long ro = (unsigned long)rd_u64(c);
    const char *dest = c->slot[slot & (NSLOTS - 1)];
    int top = pin(c, dest, what);
    const char *inner = top >= 0 ? fd_path(c, top) : dest;
    n = rd_int(c);
    for (i = 0; i < n; i++) {
        const char *name = rd_str(c), *src = rd_str(c), *fstype = rd_str(c);
        unsigned long flags = (unsigned long)rd_u64(c);
        const char *data = rd_str(c), *ep = NULL;
        size_t na, k;
        const char **aliases = rd_list(c, 0, &na);
        char *sub = ie_cat(c, inner, "/", name);
        r = makedirs(c, sub, 0777, 1, &ep);
        if (r < 0)
            fail_os(c, -r, ep);
        r = R5(SYS_mount, src, sub, fstype, flags, data);
        if (r < 0)
            fail_os(c, -r, sub);
        if (ro) {
            r = R5(SYS_mount, NULL, sub, NULL, ro, NULL);
            if (r < 0)
                fail_os(c, -r, sub);
        }
        for (k = 0; k < na; k++) {
            char *link = ie_cat(c, inner, "/", aliases[k]);
            if (!lexists(link)) {
                r = R3(SYS_symlinkat, name, AT_FDCWD, link);
                if (r < 0)
                    fail_os(c, -r, name);
            }
        }
    }
    if (ro) {
        r = R5(SYS_mount, NULL, inner, NULL, ro, NULL);
        if (r < 0)
            fail_os(c, -r, inner);
    }
    if (top >= 0)
        R1(SYS_close, top);
}

/* devnodes._create_device: one node, its parent resolved once per directory */
static void
op_device(struct child *c)
{
    long idx = rd_int(c), newdir = rd_int(c), r;
    const char *pdir = rd_str(c), *toomany = rd_str(c), *what = rd_str(c), *name = rd_str(c);
    unsigned long node = (unsigned long)rd_u64(c), dev = (unsigned long)rd_u64(c);
    unsigned long mode = (unsigned long)rd_u64(c), uid = (unsigned long)rd_u64(c),
                  gid = (unsigned long)rd_u64(c);
    char *dest;
    if (idx < 0 || idx >= c->ndirs)
        corrupt_plan();
    if (newdir) {
        struct kstat_lite st = {0, 0, 0};
        char *parent = secure_join(c, pdir, toomany);
        mkdir_all(c, parent);
        check_inside(c, parent, what);
        r = ie_stat(parent, &st, 1);
        if (r < 0)
            fail_os(c, -r, parent);
        c->dirs[idx] = parent;
        c->dir_setgid[idx] = (st.mode & 02000) != 0;
    }
    dest = ie_cat(c, c->dirs[idx], "/", name);
    r = R4(SYS_mknodat, AT_FDCWD, dest, node, dev);
    if (r == -EEXIST) {
        r = R3(SYS_unlinkat, AT_FDCWD, dest, 0);
        if (r < 0)
            fail_os(c, -r, dest);
        r = R4(SYS_mknodat, AT_FDCWD, dest, node, dev);
    }
    if (r < 0)
        fail_os(c, -r, dest);
    if (mode & 07000) { /* special bits may be dropped on create */
        r = R3(SYS_fchmodat, AT_FDCWD, dest, mode & 07777);
        if (r < 0)
            fail_os(c, -r, dest);
    }
    if (uid || gid || c->dir_setgid[idx]) {
        r = R5(SYS_fchownat, AT_FDCWD, dest, uid, gid, 0);
        if (r < 0)
            fail_os(c, -r, dest);
    }
}

static void
op_dev_links(struct child *c)
{
    const char *dev = c->slot[rd_int(c) & (NSLOTS - 1)];
    long n = rd_int(c), i;
    for (i = 0; i < n; i++) {
        const char *probe = rd_str(c), *target = rd_str(c), *suffix = rd_str(c);
        long r;
        if (probe != NULL && ie_stat(probe, NULL, 1) != 0)
            continue;
        /* symlink(2) never follows the name it creates: an existing entry is kept */
        r = R3(SYS_symlinkat, target, AT_FDCWD, ie_cat(c, dev, suffix, NULL));
        if (r < 0 && r != -EEXIST)
            fail_os(c, -r, target);
    }
}

static void
op_ptmx(struct child *c)
{
    const char *dev = c->slot[rd_int(c) & (NSLOTS - 1)];
    const char *pts = rd_str(c), *toomany = rd_str(c), *target = rd_str(c), *name = rd_str(c);
    char *ptmx;
    long r;
    if (!is_dir(secure_join(c, pts, toomany)))
        return;
    ptmx = ie_cat(c, dev, name, NULL);
    r = R3(SYS_symlinkat, target, AT_FDCWD, ptmx);
    if (r == -EEXIST) {
        if (is_link(ptmx))
            return;
        r = R3(SYS_unlinkat, AT_FDCWD, ptmx, 0);
        if (r < 0)
            fail_os(c, -r, ptmx);
        r = R3(SYS_symlinkat, target, AT_FDCWD, ptmx);
    }
    if (r < 0)
        fail_os(c, -r, target);
}

/* rootfs.pivot_root: pivot_root(".", ".") then a lazy detach of the old root */
static void
op_pivot(struct child *c)
{
    const char *rootfs = rd_str(c);
    long oldroot, newroot, r;
    oldroot = R4(SYS_openat, AT_FDCWD, "/", O_DIRECTORY | O_RDONLY | O_CLOEXEC, 0);
    if (oldroot < 0)
        fail_os(c, -oldroot, "/");
    newroot = R4(SYS_openat, AT_FDCWD, rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC, 0);
    if (newroot < 0)
        fail_os(c, -newroot, rootfs);
    if ((r = R1(SYS_fchdir, newroot)) < 0)
        fail_os(c, -r, NULL);
    if ((r = R2(SYS_pivot_root, ".", ".")) < 0)
        fail_os(c, -r, ".");
    if ((r = R1(SYS_fchdir, oldroot)) < 0)
        fail_os(c, -r, NULL);
    if ((r = R5(SYS_mount, NULL, ".", NULL, MS_SLAVE | MS_REC, NULL)) < 0)
        fail_os(c, -r, ".");
    if ((r = R2(SYS_umount2, ".", MNT_DETACH)) < 0)
        fail_os(c, -r, ".");
    if ((r = R1(SYS_chdir, "/")) < 0)
        fail_os(c, -r, "/");
    R1(SYS_close, oldroot);
    R1(SYS_close, newroot);
}

static void
op_ropath(struct child *c)
{
    const char *path = rd_str(c);
    unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY;
    struct statfs sfs;
    long r = R5(SYS_mount, path, path, NULL, MS_BIND | MS_REC, NULL);
    if (r == -ENOENT)
        return;
    if (r < 0)
        fail_os(c, -r, path);
    /* keep the flags the kernel locked on this mount (statvfs's f_flag) */
    if (R2(SYS_statfs, path, &sfs) == 0)
        flags |= (unsigned long)sfs.f_flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
    r = R5(SYS_mount, NULL, path, NULL, flags, NULL);
    if (r < 0)
        fail_os(c, -r, path);
}

static void
op_caps(struct child *c)
{
    struct __user_cap_header_struct hdr;
    struct __user_cap_data_struct data[2];
    uint64_t eff = rd_u64(c), prm = rd_u64(c), inh = rd_u64(c);
    long fallback = rd_int(c), n = rd_int(c), i, r;
    int last = last_cap(c, (int)fallback);
    eff = cap_filter(eff, last);
    prm = cap_filter(prm, last);
    inh = cap_filter(inh, last);
    hdr.version = _LINUX_CAPABILITY_VERSION_3;
    hdr.pid = 0;
    data[0].effective = (uint32_t)eff;
    data[1].effective = (uint32_t)(eff >> 32);
    data[0].permitted = (uint32_t)prm;
    data[1].permitted = (uint32_t)(prm >> 32);
    data[0].inheritable = (uint32_t)inh;
    data[1].inheritable = (uint32_t)(inh >> 32);
    if ((r = R2(SYS_capset, &hdr, data)) < 0)
        fail_os(c, -r, NULL);
    if ((r = R5(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)) < 0)
        fail_os(c, -r, NULL);
    for (i = 0; i < n; i++)
        /* not in permitted+inheritable: ignored, as runc does */
        R5(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, rd_int(c), 0, 0);
}

static void
op_identity(struct child *c)
{
    long n = rd_int(c), i, r;
    unsigned int *gids;
    unsigned long gid, uid;
    if (n < 0 || n > 65536)
        corrupt_plan();
    gids = (unsigned int *)ie_alloc(c, (size_t)(n + 1) * sizeof(unsigned int));
    for (i = 0; i < n; i++)
        gids[i] = (unsigned int)rd_u64(c);
    gid = (unsigned long)rd_u64(c);
    uid = (unsigned long)rd_u64(c);
    /* keep the permitted capabilities across setuid */
    if ((r = R5(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0)) < 0)
        fail_os(c, -r, NULL);
    if ((r = R2(SYS_setgroups, n, gids)) < 0)
        fail_os(c, -r, NULL);
    if ((r = R3(SYS_setresgid, gid, gid, gid)) < 0)
        fail_os(c, -r, NULL);
    if ((r = R3(SYS_setresuid, uid, uid, uid)) < 0)
        fail_os(c, -r, NULL);
    if ((r = R5(SYS_prctl, PR_SET_KEEPCAPS, 0, 0, 0, 0)) < 0)
        fail_os(c, -r, NULL);
}

static void
run_plan(struct child *c)
{
    for (;;) {
        int op;
        long r;
        if (c->ip >= c->end)
            corrupt_plan();
        op = *c->ip++;
        switch (op) {
        case OP_END:
            return;
        case OP_INIT: {
            c->rfd = (int)rd_int(c);
            c->wfd = (int)rd_int(c);
            c->trace = (int)rd_int(c);
            c->rootfs = rd_str_n(c, &c->rootfs_len);
            break;
        }
        case OP_CLOSE:
            R1(SYS_close, rd_int(c));
            break;
        case OP_PRCTL: {
            long option = rd_int(c), arg = rd_int(c), ignore = rd_int(c);
            r = R5(SYS_prctl, option, arg, 0, 0, 0);
            if (r < 0 && !ignore)
                fail_os(c, -r, NULL);
            break;
        }
        case OP_SETNS: {
            long fd = rd_int(c), nstype = rd_int(c);
            if ((r = R2(SYS_setns, fd, nstype)) < 0)
                fail_os(c, -r, NULL);
            R1(SYS_close, fd);
            break;
        }
        case OP_MARK:
            trace_mark(c, rd_str(c));
            break;
        case OP_SEND:
            send_msg(c, (int)rd_int(c));
            break;
        case OP_EXPECT:
            expect_msg(c, (int)rd_int(c));
            break;
        case OP_KEYRING: /* keyrings are optional (e.g. disabled by a parent's seccomp) */
            R2(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, rd_str(c));
            break;
        case OP_HOSTNAME:
        case OP_DOMAINNAME: {
            size_t n;
            const char *name = rd_str_n(c, &n);
            r = R2(op == OP_HOSTNAME ? SYS_sethostname : SYS_setdomainname, name, n);
            if (r < 0)
                fail_os(c, -r, NULL);
            break;
        }
        case OP_RLIMIT: {
            long res = rd_int(c);
            uint64_t lim[2];
            const char *prefix, *suffix;
            lim[0] = rd_u64(c);
            lim[1] = rd_u64(c);
            prefix = rd_str(c);
            suffix = rd_str(c);
            if ((r = R4(SYS_prlimit64, 0, res, lim, NULL)) < 0)
                fail_wrap(c, 1, prefix, -r, suffix);
            break;
        }
        case OP_FAIL: {
            long code = rd_int(c);
            size_t n;
            const char *msg = rd_str_n(c, &n);
            report(c, (int)code, msg, n);
        }
        case OP_UMASK_SAVE:
            c->old_umask = (int)R1(SYS_umask, rd_int(c));
            break;
        case OP_UMASK_RESTORE:
            R1(SYS_umask, c->old_umask);
            break;
        case OP_MOUNT: {
            const char *src = rd_str(c), *target = rd_str(c), *fstype = rd_str(c);
            unsigned long flags = (unsigned long)rd_u64(c);
            const char *data = rd_str(c);
            if ((r = R5(SYS_mount, src, target, fstype, flags, data)) < 0)
                fail_os(c, -r, target);
            break;
        }
        case OP_ROOTFD: {
            const char *path = rd_str(c);
            r = R4(SYS_openat, AT_FDCWD, path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
            if (r < 0)
                fail_os(c, -r, path);
            c->root_fd = (int)r;
            break;
        }
        case OP_ROOTFD_CLOSE:
            if (c->root_fd >= 0)
                R1(SYS_close, c->root_fd);
            c->root_fd = -1;
            break;
        case OP_JOIN: {
            long slot = rd_int(c);
            const char *unsafe = rd_str(c), *toomany = rd_str(c);
            c->slot[slot & (NSLOTS - 1)] = secure_join(c, unsafe, toomany);
            break;
        }
        case OP_BIND_SRC: {
            const char *src = rd_str(c), *prefix = rd_str(c);
            struct kstat_lite st;
            if ((r = ie_stat(src, &st, 1)) < 0)
                fail_wrap(c, 1, prefix, -r, NULL);
            c->src_is_dir = S_ISDIR(st.mode);
            break;
        }
        case OP_MAKE_TARGET:
            op_make_target(c);
            break;
        case OP_MOUNT_PINNED:
            op_mount_pinned(c);
            break;
        case OP_CGROUP_JOIN:
            op_cgroup_join(c);
            break;
        case OP_CGROUP_V1:
            op_cgroup_v1(c);
            break;
        case OP_DEV_DIR: {
            long slot = rd_int(c), ndirs = rd_int(c);
            const char *unsafe = rd_str(c), *toomany = rd_str(c), *ep = NULL;
            char *dev = secure_join(c, unsafe, toomany);
            if (ndirs < 0 || ndirs > 4096)
                corrupt_plan();
            c->slot[slot & (NSLOTS - 1)] = dev;
            if ((r = makedirs(c, dev, 0755, 1, &ep)) < 0)
                fail_os(c, -r, ep);
            c->ndirs = (int)ndirs;
            c->dirs = (char **)ie_alloc(c, (size_t)(ndirs + 1) * sizeof(char *));
            c->dir_setgid = (int *)ie_alloc(c, (size_t)(ndirs + 1) * sizeof(int));
            break;
        }
        case OP_DEVICE:
            op_device(c);
            break;
        case OP_DEV_LINKS:
            op_dev_links(c);
            break;
        case OP_PTMX:
            op_ptmx(c);
            break;
        case OP_CWD: {
            const char *cwd = rd_str(c), *toomany = rd_str(c), *ep = NULL;
            char *p = secure_join(c, cwd, toomany);
            if (!is_dir(p) && (r = makedirs(c, p, 0755, 1, &ep)) < 0)
                fail_os(c, -r, ep);
            break;
        }
        case OP_PIVOT:
            op_pivot(c);
            break;
        case OP_SYSCTL: {
            const char *path = rd_str(c), *prefix = rd_str(c), *value, *prefix2;
            size_t vlen;
            long fd, w;
            value = rd_str_n(c, &vlen);
            prefix2 = rd_str(c);
            fd = R4(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CLOEXEC, 0);
            if (fd < 0)
                fail_wrap(c, 1, prefix, -fd, NULL);
            w = R3(SYS_write, fd, value, vlen);
            R1(SYS_close, fd);
            if (w < 0)
                fail_wrap(c, 1, prefix2, -w, NULL);
            break;
        }
        case OP_MASK: {
            /* rootfs.mask_path: /dev/null over a file, an empty read-only tmpfs over a dir */
            const char *path = rd_str(c);
            r = R5(SYS_mount, "/dev/null", path, NULL, MS_BIND, NULL);
            if (r == -ENOTDIR)
                r = R5(SYS_mount, "tmpfs", path, "tmpfs", MS_RDONLY, NULL);
            else if (r == -ENOENT)
                r = 0;
            if (r < 0)
                fail_os(c, -r, path);
            break;
        }
        case OP_ROPATH:
            op_ropath(c);
            break;
        case OP_LOOKUP: {
            const char *argv0 = rd_str(c), *pathenv = rd_str(c);
            c->path = lookup(c, argv0, pathenv);
            break;
        }
        case OP_CHECK_EXEC:
            check_executable(c, c->path, rd_str(c));
            break;
        case OP_SETSID:
            if ((r = R0(SYS_setsid)) < 0)
                fail_os(c, -r, NULL);
            break;
        case OP_FIFO: {
            /* `create` returned: errors from here on go to the container's stderr */
            long fifo = rd_int(c), fd, w;
            char *p;
            R1(SYS_close, c->wfd);
            c->wfd = -1;
            p = fd_path(c, fifo);
            fd = R4(SYS_openat, AT_FDCWD, p, O_WRONLY | O_CLOEXEC, 0); /* until `start` */
            if (fd < 0)
                fail_os(c, -fd, p);
            if ((w = R3(SYS_write, fd, "0", 1)) < 0)
                fail_os(c, -w, NULL);
            R1(SYS_close, fd);
            R1(SYS_close, fifo);
            break;
        }
        case OP_HOME:
            home_of(c, (unsigned long)rd_u64(c));
            break;
        case OP_CHDIR: {
            const char *cwd = rd_str(c), *prefix = rd_str(c);
            if ((r = R1(SYS_chdir, cwd)) < 0)
                fail_wrap(c, 1, prefix, -r, NULL);
            break;
        }
        case OP_EXEC_PATH: {
            const char *argv0 = rd_str(c), *pathenv = rd_str(c);
            long use_checked = rd_int(c);
            if (!(use_checked && c->path != NULL && c->path[0] == '/')) {
                c->path = lookup(c, argv0, pathenv);
                check_executable(c, c->path, argv0);
            }
            break;
        }
        case OP_DEFAULT_SIGNALS: {
            /* what the interpreter ignores (SIGPIPE, SIGXFSZ) back to default, mask empty */
            struct ksigaction dfl = {0, 0, 0, 0};
            uint64_t none = 0;
            long n = rd_int(c), i;
            for (i = 0; i < n; i++)
                R4(SYS_rt_sigaction, rd_int(c), &dfl, NULL, 8);
            R4(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
            break;
        }
        case OP_CLOEXEC_FROM:
            cloexec_from(c, (unsigned int)rd_int(c));
            break;
        case OP_TRAMPOLINE:
            r = trampoline_memfd();
            if (r < 0)
                mark_errno(c, "exec: no trampoline (", -r, "): plain execve");
            c->tramp = r < 0 ? -1 : (int)r;
            break;
        case OP_SECCOMP: {
            size_t len;
            const char *prog = rd_str_n(c, &len);
            unsigned long flags = (unsigned long)rd_u64(c);
            struct {
                unsigned short len;
                const void *filter;
            } fprog = {(unsigned short)(len / 8), prog};
            r = R3(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, flags, &fprog);
            if (r < 0)
                fail_os(c, -r, NULL);
            if (r > 0) /* a notify listener nobody asked for: it must not reach the container */
                R1(SYS_close, r);
            break;
        }
        case OP_CAPBSET: {
            uint64_t keep = rd_u64(c);
            long fallback = rd_int(c);
            int last = last_cap(c, (int)fallback), cap;
            for (cap = 0; cap <= last; cap++) {
                if (keep & (1ULL << cap))
                    continue;
                if ((r = R5(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0)) < 0)
                    fail_os(c, -r, NULL);
            }
            break;
        }
        case OP_IDENTITY:
            op_identity(c);
            break;
        case OP_CAPS:
            op_caps(c);
            break;
        case OP_UMASK:
            R1(SYS_umask, rd_int(c));
            break;
        case OP_EXEC:
            do_exec(c);
        case OP_ARENA_MARK:
            c->saved_top = c->top;
            break;
        case OP_ARENA_RESET:
            c->top = c->saved_top;
            break;
        default:
            corrupt_plan();
        }
    }
}

/* the child's entry (on its own stack, in the parent's memory) */
static int
child_main(void *arg)
{
    struct child *c = (struct child *)arg;
    int sig;
    /* handlers that are functions (Python's) to default; ignored ones stay, as across execve */
    for (sig = 1; sig <= 64; sig++) {
        struct ksigaction old, dfl = {0, 0, 0, 0};
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (R4(SYS_rt_sigaction, sig, NULL, &old, 8) == 0 && old.handler > 1)
            R4(SYS_rt_sigaction, sig, &dfl, NULL, 8);
    }
    run_plan(c);
    corrupt_plan(); /* a plan must end in an exec or a failure */
    return 1;
}

/* ---- the parent's side (Python) ----------------------------------------- */

/*
 * The arena bounds: a secure_join takes at most ~3.2 MB of work space (255
 * hops of 4 KB symlinks), a kept result at most ~1 MB, and the planner
 * allows 16 device directories: ~21 MB in the worst case, touched only as
 * far as used (an ordinary start touches a few pages).
 */
#define IE_STACK (1UL << 20)
#define IE_ARENA (32UL << 20)
#define IE_MAX_TEXT (1 << 16) /* longest string a plan carries: the arena's bounds assume it */

/*
 * The plan's encoding, done here rather than in Python (where it was most
 * of the planner's time): a list of tuples (opcode, fields...) becomes
 * "HIP1" + 4 reserved bytes, then per op its opcode byte and its fields:
 * an int as 8 bytes little-endian (two's complement, masked), a str (strict
 * UTF-8, no NUL) or bytes as a 4-byte length, the bytes and a NUL, None as
 * the length 0xffffffff, a list as an 8-byte count and its items. Run twice:
 * to size the plan (out == NULL), then to write it.
 */
struct ser {
    unsigned char *out;
    size_t len;
};

static void
ser_put(struct ser *s, const void *p, size_t n)
{
    if (s->out != NULL)
        memcpy(s->out + s->len, p, n);
    s->len += n;
}

static void
ser_u64(struct ser *s, unsigned long long v)
{
    unsigned char b[8];
    int i;
    for (i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    ser_put(s, b, 8);
}

static void
ser_bytes(struct ser *s, const char *p, size_t n)
{
    unsigned char b[4] = {(unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 24)};
    ser_put(s, b, 4);
    ser_put(s, p, n);
    ser_put(s, "", 1);
}

static int
ser_field(struct ser *s, PyObject *o, int nested)
{
    if (o == Py_None) {
        ser_put(s, "\xff\xff\xff\xff", 4);
    } else if (PyLong_Check(o)) {
        unsigned long long v = PyLong_AsUnsignedLongLongMask(o);
        if (v == (unsigned long long)-1 && PyErr_Occurred())
            return -1;
        ser_u64(s, v);
    } else if (PyUnicode_Check(o)) {
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(o, &n); /* strict: no surrogates */
        if (p == NULL)
            return -1;
        if (n > IE_MAX_TEXT || memchr(p, 0, (size_t)n) != NULL) {
            PyErr_SetString(PyExc_ValueError, "a string with a NUL or over 64 KiB");
            return -1;
        }
        ser_bytes(s, p, (size_t)n);
    } else if (PyBytes_Check(o)) {
        Py_ssize_t n = PyBytes_GET_SIZE(o); /* binary (a seccomp program) */
        if (n > 0xffff * 8) {
            PyErr_SetString(PyExc_ValueError, "plan: bytes too long");
            return -1;
        }
        ser_bytes(s, PyBytes_AS_STRING(o), (size_t)n);
    } else if (PyList_Check(o) && !nested) {
        Py_ssize_t i, n = PyList_GET_SIZE(o);
        ser_u64(s, (unsigned long long)n);
        for (i = 0; i < n; i++)
            if (ser_field(s, PyList_GET_ITEM(o, i), 1) < 0)
                return -1;
    } else {
        PyErr_Format(PyExc_TypeError, "plan: unexpected %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    return 0;
}

static int
ser_plan(struct ser *s, PyObject *ops)
{
    Py_ssize_t i, j;
    ser_put(s, "HIP1\0\0\0\0", 8);
    for (i = 0; i < PyList_GET_SIZE(ops); i++) {
        PyObject *op = PyList_GET_ITEM(ops, i);
        long code;
        unsigned char byte;
        if (!PyTuple_Check(op) || PyTuple_GET_SIZE(op) < 1) {
            PyErr_SetString(PyExc_TypeError, "plan: an op is a tuple (opcode, fields...)");
            return -1;
        }
        code = PyLong_AsLong(PyTuple_GET_ITEM(op, 0));
        if (code < 0 || code > 255) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "plan: bad opcode");
            return -1;
        }
        byte = (unsigned char)code;
        ser_put(s, &byte, 1);
        for (j = 1; j < PyTuple_GET_SIZE(op); j++)
            if (ser_field(s, PyTuple_GET_ITEM(op, j), 0) < 0)
                return -1;
    }
    return 0;
}

static struct {
    char *map;
    size_t len;
    struct child *c;
    int dumpable;
    char oom[16]; /* the parent's own oom_score_adj, to put back (keep_oom) */
    ssize_t oom_len;
} job;

PyObject *
hull_init_spawn(PyObject *self, PyObject *args)
{
    unsigned long flags;
    PyObject *ops;
    struct ser ser = {NULL, 0};
    int keep_oom = 0;
    const unsigned long allowed = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |
                                  CLONE_NEWNET | CLONE_NEWCGROUP;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), hdr, plen, total;
    char *map, *stack_top, *plan_copy;
    struct child *c;
    uint64_t all = ~(uint64_t)0, old = 0;
    long pid;
    int saved;
    if (!PyArg_ParseTuple(args, "kO!|p:init_spawn", &flags, &PyList_Type, &ops, &keep_oom))
        return NULL;
    if (flags & ~allowed) {
        PyErr_SetString(PyExc_ValueError, "init_spawn: only new-namespace flags");
        return NULL;
    }
    if (job.map != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "init_spawn: the last init has not left our memory");
        return NULL;
    }
    if (ser_plan(&ser, ops) < 0) /* sized (and checked) first */
        return NULL;
    /* [guard page][stack][child state][plan][arena]: one mapping, freed as one */
    hdr = (sizeof(struct child) + page - 1) & ~(page - 1);
    plen = (ser.len + page - 1) & ~(page - 1);
    total = page + IE_STACK + hdr + plen + IE_ARENA;
    map = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
               -1, 0);
    if (map == MAP_FAILED)
        return PyErr_NoMemory(); /* the runtime falls back to the forked init */
    /* a stack overflow must fault, not run into the parent's memory below */
    if (mprotect(map, page, PROT_NONE) < 0) {
        saved = errno;
        munmap(map, total);
        errno = saved;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    stack_top = map + page + IE_STACK;
    c = (struct child *)stack_top;
    plan_copy = stack_top + hdr;
    ser.out = (unsigned char *)plan_copy;
    ser.len = 0;
    if (ser_plan(&ser, ops) < 0) { /* cannot fail where sizing did not: no Python ran between */
        munmap(map, total);
        return NULL;
    }
    c->ip = (const unsigned char *)plan_copy + 8;
    c->end = (const unsigned char *)plan_copy + ser.len;
    c->top = plan_copy + plen;
    c->limit = c->top + IE_ARENA;
    c->rfd = c->wfd = c->root_fd = c->tramp = c->last_cap = -1;
    c->ctid = 1;
    job.dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    /*
     * Writing the child's oom_score_adj also sets ours while we share its mm
     * (the kernel keeps processes of one mm alike): remember ours.
     */
    job.oom_len = 0;
    if (keep_oom) {
        int fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            job.oom_len = read(fd, job.oom, sizeof(job.oom));
            close(fd);
        }
    }
    /* the child starts with every signal blocked: no handler of ours may run in it */
    rsys6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, (long)&old, 8, 0, 0);
    pid = clone(child_main, stack_top, (int)(flags | CLONE_VM | CLONE_CHILD_CLEARTID | SIGCHLD), c,
                NULL, NULL, &c->ctid);
    saved = errno;
    rsys6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8, 0, 0);
    if (pid < 0) {
        munmap(map, total);
        errno = saved;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    job.map = map;
    job.len = total;
    job.c = c;
    return PyLong_FromLong(pid);
}

/*
 * init_release() -> bool: free the child's stack and arena once it has left
 * our memory (exec'd or exited: the kernel then clears its CLEARTID word),
 * and undo what it changed of the shared mm (dumpable, and oom_score_adj,
 * which the runtime set for it). False while it has
 * not: then nothing is freed (a `create` exits first and never frees).
 */
PyObject *
hull_init_release(PyObject *self, PyObject *unused)
{
    if (job.map == NULL)
        Py_RETURN_TRUE;
    if (__atomic_load_n(&job.c->ctid, __ATOMIC_ACQUIRE) != 0)
        Py_RETURN_FALSE;
    munmap(job.map, job.len);
    job.map = NULL;
    job.c = NULL;
    if (job.dumpable == 1)
        prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    if (job.oom_len > 0) {
        int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (write(fd, job.oom, (size_t)job.oom_len) < 0) {
                /* best effort: this process only waits for the container now */
            }
            close(fd);
        }
        job.oom_len = 0;
    }
    Py_RETURN_TRUE;
}

/* init_probe() -> bool: this build and kernel can run plans (openat2, close_range) */
PyObject *
hull_init_probe(PyObject *self, PyObject *unused)
{
    static int known = -1;
    if (known < 0) {
        long r1 = rsys6(SYS_openat2, -1, (long)"", 0, 0, 0, 0);
        long r2 = rsys6(SYS_close_range, ~0U, ~0U, 4, 0, 0, 0);
        known = r1 == -EINVAL && r2 == 0;
    }
    return PyBool_FromLong(known);
}

#else /* !IE_SUPPORTED */

PyObject *
hull_init_spawn(PyObject *self, PyObject *args)
{
    errno = ENOSYS;
    return PyErr_SetFromErrno(PyExc_OSError);
}

PyObject *
hull_init_release(PyObject *self, PyObject *unused)
{
    Py_RETURN_TRUE;
}

PyObject *
hull_init_probe(PyObject *self, PyObject *unused)
{
    Py_RETURN_FALSE;
}

#endif
