/*
 * hull's exec trampoline: what a container's init (or an `exec` process)
 * execs right before the container's program, from a sealed memfd.
 *
 * Why: init is a fork of the Python runtime, so until its last execve its
 * /proc/self/exe is the host's interpreter. A program whose #! chain ends in
 * /proc/self/exe would run that interpreter inside the container, where
 * /proc/<pid>/exe can be reopened for writing (CVE-2019-5736). Exec'ing this
 * program from a sealed memfd first makes /proc/self/exe a private,
 * unwritable copy of this ~2.5 KB program instead; it then execs the
 * real program. Run any other way (a `#!/proc/self/exe` chain gives it
 * argv[0] = "/proc/self/exe"), it refuses and exits.
 *
 * argv: "hull-exec", <fd>, <path>, <the program's argv...>
 *   fd: init's sync pipe to the runtime ("-1": none, after `create`). It is
 *       inherited open; it is made close-on-exec again before the execve,
 *       so nothing of the runtime reaches the program (CVE-2024-21626) and
 *       its end of file tells the runtime the execve succeeded.
 *   On failure: an ERROR message of hull/runtime/sync.py on fd, else a line
 *   on stderr; exit 127 (ENOENT) or 126, as the Python exec path does.
 *
 * No libc: static, no relocations, a raw syscall per architecture. Built by
 * setup.py (build_ext) and embedded into hull.linux._sys.
 */

typedef unsigned long size_t;

#if defined(__x86_64__)
#define NR_write 1
#define NR_close 3
#define NR_execve 59
#define NR_exit 60
#define NR_fcntl 72
#define NR_exit_group 231

static long
sys3(long n, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return ret;
}

/* the kernel's initial stack: argc, argv..., NULL, envp..., NULL */
__asm__(".text\n"
        ".global _start\n"
        "_start:\n"
        "    xor %ebp, %ebp\n"
        "    mov %rsp, %rdi\n"
        "    and $-16, %rsp\n"
        "    call tramp_main\n"
        "    hlt\n");

#elif defined(__aarch64__)
#define NR_fcntl 25
#define NR_close 57
#define NR_write 64
#define NR_exit 93
#define NR_exit_group 94
#define NR_execve 221

static long
sys3(long n, long a, long b, long c)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
}

__asm__(".text\n"
        ".global _start\n"
        "_start:\n"
        "    mov x29, #0\n"
        "    mov x30, #0\n"
        "    mov x0, sp\n"
        "    bl tramp_main\n"
        "1:  b 1b\n");

#else
#error "no exec trampoline for this architecture (hull falls back to a plain execve)"
#endif

#define F_SETFD 2
#define FD_CLOEXEC 1

#define EBADF 9
#define ENOENT 2

/* hull/runtime/sync.py: a type byte, a 4-byte little-endian length, the payload */
#define SYNC_ERROR 7

#define MAGIC "hull-exec"
#define MAX_ARGV0 512

/* the errors execve(2) gives, worded as the Python exec path words them */
static const struct {
    int err;
    const char *text;
} errors[] = {
    {1, "operation not permitted"},
    {2, "no such file or directory"},
    {5, "input/output error"},
    {7, "argument list too long"},
    {8, "exec format error"},
    {11, "resource temporarily unavailable"},
    {12, "cannot allocate memory"},
    {13, "permission denied"},
    {14, "bad address"},
    {20, "not a directory"},
    {21, "is a directory"},
    {22, "invalid argument"},
    {23, "too many open files in system"},
    {24, "too many open files"},
    {26, "text file busy"},
    {36, "file name too long"},
    {38, "function not implemented"},
    {40, "too many levels of symbolic links"},
    {80, "accessing a corrupted shared library"},
};

/* header (5 bytes) + "126:exec: \"" + argv0 + "\": " + reason + "\n" */
static char msg[5 + 16 + MAX_ARGV0 + 64 + 40];

static __attribute__((noreturn)) void
die(int code)
{
    sys3(NR_exit_group, code, 0, 0);
    sys3(NR_exit, code, 0, 0);
    /* both refused by a seccomp filter: die of SIGILL rather than spin */
    for (;;)
        __builtin_trap();
}

static size_t
put(size_t pos, const char *s, size_t max)
{
    while (*s && pos < max)
        msg[pos++] = *s++;
    return pos;
}

static size_t
put_uint(size_t pos, unsigned long v)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < 20);
    while (n)
        msg[pos++] = digits[--n];
    return pos;
}

static int
streq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* "-1" or a small decimal fd; anything else is -2 */
static long
parse_fd(const char *s)
{
    long v = 0;
    int n = 0;
    if (streq(s, "-1"))
        return -1;
    for (; *s; s++, n++) {
        if (*s < '0' || *s > '9' || n >= 7)
            return -2;
        v = v * 10 + (*s - '0');
    }
    return n ? v : -2;
}

static void
write_all(long fd, const char *buf, size_t len)
{
    sys3(NR_write, fd, (long)buf, (long)len);
}

static __attribute__((noreturn)) void
refuse(void)
{
    static const char text[] =
        "hull-runtime: refusing to run the exec trampoline as a program"
        " (it is what /proc/self/exe names in a container while it starts)\n";
    write_all(2, text, sizeof(text) - 1);
    die(126);
}

/* Report a failed execve of argv0 on the sync pipe (fd >= 0) or stderr, then exit. */
static __attribute__((noreturn)) void
fail(long fd, const char *argv0, long err)
{
    const char *reason = 0;
    int code = err == ENOENT ? 127 : 126;
    size_t pos, start, i, end = sizeof(msg) - 1;
    for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
        if (errors[i].err == err)
            reason = errors[i].text;
    start = fd >= 0 ? 5 : 0;
    pos = start;
    if (fd >= 0) {
        pos = put_uint(pos, (unsigned long)code);
        pos = put(pos, ":", end);
    } else {
        pos = put(pos, "hull-runtime: ", end);
    }
    pos = put(pos, "exec: \"", end);
    i = put(pos, argv0, pos + MAX_ARGV0);
    pos = argv0[i - pos] ? put(i, "...", end) : i;
    pos = put(pos, "\": ", end);
    if (reason) {
        pos = put(pos, reason, end);
    } else {
        pos = put(pos, "exec failed (errno ", end);
        pos = put_uint(pos, (unsigned long)err);
        pos = put(pos, ")", end);
    }
    if (fd >= 0) {
        size_t len = pos - start;
        msg[0] = SYNC_ERROR;
        msg[1] = (char)(len & 0xff);
        msg[2] = (char)((len >> 8) & 0xff);
        msg[3] = 0;
        msg[4] = 0;
        write_all(fd, msg, pos);
    } else {
        msg[pos++] = '\n';
        write_all(2, msg, pos);
    }
    die(code);
}

__attribute__((used, noreturn)) void
tramp_main(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    long fd, rc;
    if (argc < 4 || !argv[0] || !streq(argv[0], MAGIC))
        refuse();
    fd = parse_fd(argv[1]);
    if (fd < -1)
        refuse();
    if (fd >= 0 && sys3(NR_fcntl, fd, F_SETFD, FD_CLOEXEC) < 0) {
        /* could not mark it (a seccomp filter?): it must not leak, so close it */
        rc = sys3(NR_close, fd, 0, 0);
        if (rc < 0 && rc != -EBADF) {
            static const char text[] =
                "hull-runtime: exec: cannot close the runtime's pipe before exec\n";
            write_all(2, text, sizeof(text) - 1);
            die(126);
        }
        fd = -1;
    }
    rc = sys3(NR_execve, (long)argv[2], (long)(argv + 3), (long)envp);
    fail(fd, argv[3], -rc);
}
