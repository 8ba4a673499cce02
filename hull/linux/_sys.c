/*
 * hull.linux._sys: the few Linux syscalls that Python's os module lacks.
 *
 * Why C and not ctypes: importing ctypes costs ~4 ms and the runtime's
 * whole start budget is ~20 ms (issue #2). Every function here is a thin
 * wrapper: it takes plain ints/str/bytes, calls one syscall and raises
 * OSError(errno, strerror[, path]) on failure. No policy lives here.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pivot_root
#define SYS_pivot_root __NR_pivot_root
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_seccomp
#define SYS_seccomp __NR_seccomp
#endif
#ifndef SYS_keyctl
#define SYS_keyctl __NR_keyctl
#endif
#ifndef SYS_bpf
#define SYS_bpf __NR_bpf
#endif

static PyObject *
raise_errno(const char *path)
{
    if (path != NULL)
        return PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
    return PyErr_SetFromErrno(PyExc_OSError);
}

static PyObject *
sys_unshare(PyObject *self, PyObject *args)
{
    int flags;
    if (!PyArg_ParseTuple(args, "i:unshare", &flags))
        return NULL;
    if (unshare(flags) < 0)
        return raise_errno(NULL);
    Py_RETURN_NONE;
}

static PyObject *
sys_setns(PyObject *self, PyObject *args)
{
    int fd, nstype;
    if (!PyArg_ParseTuple(args, "ii:setns", &fd, &nstype))
        return NULL;
    if (setns(fd, nstype) < 0)
        return raise_errno(NULL);
    Py_RETURN_NONE;
}

/*
 * clone(flags) behaves like os.fork() but creates the namespaces named in
 * flags for the child in the same step. The child is the first process of a
 * new pid namespace when CLONE_NEWPID is set, which unshare() cannot give
 * the calling process itself. The interpreter's fork hooks run as for
 * os.fork(), so the child is a sound single-threaded Python process.
 */
static PyObject *
sys_clone(PyObject *self, PyObject *args)
{
    unsigned long flags;
    long pid;
    int saved_errno;
    if (!PyArg_ParseTuple(args, "k:clone", &flags))
        return NULL;
    PyOS_BeforeFork();
    pid = syscall(SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);
    saved_errno = errno;
    if (pid == 0) {
        PyOS_AfterFork_Child();
    } else {
        PyOS_AfterFork_Parent();
    }
    if (pid < 0) {
        errno = saved_errno;
        return raise_errno(NULL);
    }
    return PyLong_FromLong(pid);
}

static PyObject *
sys_mount(PyObject *self, PyObject *args)
{
    const char *source, *target, *fstype, *data;
    unsigned long flags;
    if (!PyArg_ParseTuple(args, "zszkz:mount", &source, &target, &fstype, &flags, &data))
        return NULL;
    if (mount(source, target, fstype, flags, data) < 0)
        return raise_errno(target);
    Py_RETURN_NONE;
}

static PyObject *
sys_umount2(PyObject *self, PyObject *args)
{
    const char *target;
    int flags;
    if (!PyArg_ParseTuple(args, "si:umount2", &target, &flags))
        return NULL;
    if (umount2(target, flags) < 0)
        return raise_errno(target);
    Py_RETURN_NONE;
}

static PyObject *
sys_pivot_root(PyObject *self, PyObject *args)
{
    const char *new_root, *put_old;
    if (!PyArg_ParseTuple(args, "ss:pivot_root", &new_root, &put_old))
        return NULL;
    if (syscall(SYS_pivot_root, new_root, put_old) < 0)
        return raise_errno(new_root);
    Py_RETURN_NONE;
}

static PyObject *
sys_sethostname(PyObject *self, PyObject *args)
{
    const char *name;
    Py_ssize_t len;
    if (!PyArg_ParseTuple(args, "s#:sethostname", &name, &len))
        return NULL;
    if (sethostname(name, (size_t)len) < 0)
        return raise_errno(NULL);
    Py_RETURN_NONE;
}

static PyObject *
sys_setdomainname(PyObject *self, PyObject *args)
{
    const char *name;
    Py_ssize_t len;
    if (!PyArg_ParseTuple(args, "s#:setdomainname", &name, &len))
        return NULL;
    if (setdomainname(name, (size_t)len) < 0)
        return raise_errno(NULL);
    Py_RETURN_NONE;
}

/* capget(pid) -> (effective, permitted, inheritable) as 64-bit masks. */
static PyObject *
sys_capget(PyObject *self, PyObject *args)
{
    int pid = 0;
    struct __user_cap_header_struct hdr;
    struct __user_cap_data_struct data[2];
    if (!PyArg_ParseTuple(args, "|i:capget", &pid))
        return NULL;
    hdr.version = _LINUX_CAPABILITY_VERSION_3;
    hdr.pid = pid;
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) < 0)
        return raise_errno(NULL);
    return Py_BuildValue(
        "(KKK)",
        (unsigned long long)data[0].effective | ((unsigned long long)data[1].effective << 32),
        (unsigned long long)data[0].permitted | ((unsigned long long)data[1].permitted << 32),
        (unsigned long long)data[0].inheritable | ((unsigned long long)data[1].inheritable << 32));
}

static PyObject *
sys_capset(PyObject *self, PyObject *args)
{
    unsigned long long eff, prm, inh;
    struct __user_cap_header_struct hdr;
    struct __user_cap_data_struct data[2];
    if (!PyArg_ParseTuple(args, "KKK:capset", &eff, &prm, &inh))
        return NULL;
    hdr.version = _LINUX_CAPABILITY_VERSION_3;
    hdr.pid = 0;
    data[0].effective = (unsigned int)eff;
    data[1].effective = (unsigned int)(eff >> 32);
    data[0].permitted = (unsigned int)prm;
    data[1].permitted = (unsigned int)(prm >> 32);
    data[0].inheritable = (unsigned int)inh;
    data[1].inheritable = (unsigned int)(inh >> 32);
    if (syscall(SYS_capset, &hdr, data) < 0)
        return raise_errno(NULL);
    Py_RETURN_NONE;
}

static PyObject *
sys_prctl(PyObject *self, PyObject *args)
{
    int option;
    unsigned long a2 = 0, a3 = 0, a4 = 0, a5 = 0;
    int rc;
    if (!PyArg_ParseTuple(args, "i|kkkk:prctl", &option, &a2, &a3, &a4, &a5))
        return NULL;
    rc = prctl(option, a2, a3, a4, a5);
    if (rc < 0)
        return raise_errno(NULL);
    return PyLong_FromLong(rc);
}

/*
 * capbset_drop(keep, last_cap): drop every capability 0..last_cap whose bit
 * is clear in keep from the bounding set. One call instead of ~40 prctl()
 * round trips through the interpreter on the container's start path; a
 * capability already out of the set drops without error.
 */
static PyObject *
sys_capbset_drop(PyObject *self, PyObject *args)
{
    unsigned long long keep;
    int last, cap;
    if (!PyArg_ParseTuple(args, "Ki:capbset_drop", &keep, &last))
        return NULL;
    if (last < 0 || last > 63) {
        PyErr_SetString(PyExc_ValueError, "capbset_drop: last_cap out of range");
        return NULL;
    }
    for (cap = 0; cap <= last; cap++) {
        if (keep & (1ULL << cap))
            continue;
        if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) < 0)
            return raise_errno(NULL);
    }
    Py_RETURN_NONE;
}

/*
 * seccomp_load(program, flags): install a classic-BPF filter given as the
 * raw bytes of an array of struct sock_filter (8 bytes each). Returns the
 * syscall's result (a listener fd with SECCOMP_FILTER_FLAG_NEW_LISTENER).
 */
static PyObject *
sys_seccomp_load(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    unsigned int flags = 0;
    struct sock_fprog prog;
    long rc;
    if (!PyArg_ParseTuple(args, "y*|I:seccomp_load", &buf, &flags))
        return NULL;
    if (buf.len == 0 || buf.len % sizeof(struct sock_filter) != 0 ||
        buf.len / sizeof(struct sock_filter) > 0xffff) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "seccomp program must be a non-empty array of sock_filter");
        return NULL;
    }
    prog.len = (unsigned short)(buf.len / sizeof(struct sock_filter));
    prog.filter = (struct sock_filter *)buf.buf;
    rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    PyBuffer_Release(&buf);
    if (rc < 0)
        return raise_errno(NULL);
    return PyLong_FromLong(rc);
}

static PyObject *
sys_close_range(PyObject *self, PyObject *args)
{
    unsigned int first, last, flags = 0;
    if (!PyArg_ParseTuple(args, "II|I:close_range", &first, &last, &flags))
        return NULL;
    if (syscall(SYS_close_range, first, last, flags) < 0)
        return raise_errno(NULL);
    Py_RETURN_NONE;
}

/*
 * openat2(dirfd, path, flags, resolve) -> fd: open with the kernel resolving
 * the path (RESOLVE_IN_ROOT: as if dirfd were "/", symlinks and ".."
 * included), so a mount target inside a rootfs cannot be redirected out of
 * it between the check and the mount. ENOSYS before Linux 5.6.
 */
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

static PyObject *
sys_openat2(PyObject *self, PyObject *args)
{
    int dirfd, flags;
    unsigned long long resolve;
    const char *path;
    struct {
        unsigned long long flags, mode, resolve;
    } how;
    long fd;
    if (!PyArg_ParseTuple(args, "isiK:openat2", &dirfd, &path, &flags, &resolve))
        return NULL;
    how.flags = (unsigned long long)(unsigned int)flags;
    how.mode = 0;
    how.resolve = resolve;
    fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    if (fd < 0)
        return raise_errno(path);
    return PyLong_FromLong(fd);
}

/* syncfs(fd): flush the filesystem holding fd, not the whole machine (sync). */
static PyObject *
sys_syncfs(PyObject *self, PyObject *args)
{
    int fd, rc;
    if (!PyArg_ParseTuple(args, "i:syncfs", &fd))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = syncfs(fd);
    Py_END_ALLOW_THREADS
    if (rc < 0)
        return raise_errno(NULL);
    Py_RETURN_NONE;
}

/* A new session keyring, so containers never share the host's keys. */
static PyObject *
sys_join_session_keyring(PyObject *self, PyObject *args)
{
    const char *name = NULL;
    long rc;
    if (!PyArg_ParseTuple(args, "|z:join_session_keyring", &name))
        return NULL;
    rc = syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, name, 0, 0, 0);
    if (rc < 0)
        return raise_errno(NULL);
    return PyLong_FromLong(rc);
}

/* setrlimit(resource, soft, hard): the resource module is one more dlopen on the hot path. */
static PyObject *
sys_setrlimit(PyObject *self, PyObject *args)
{
    int resource;
    unsigned long long soft, hard;
    struct rlimit rl;
    if (!PyArg_ParseTuple(args, "iKK:setrlimit", &resource, &soft, &hard))
        return NULL;
    rl.rlim_cur = (rlim_t)soft;
    rl.rlim_max = (rlim_t)hard;
    if (setrlimit(resource, &rl) < 0)
        return raise_errno(NULL);
    Py_RETURN_NONE;
}

/*
 * bpf(cmd, attr, pointers=()): the bpf(2) syscall on a union bpf_attr that
 * the caller packed into a bytearray; what the kernel writes back (e.g.
 * BPF_PROG_QUERY's prog_cnt) lands in that bytearray. Python cannot take a
 * buffer's address without ctypes, so each (offset, buffer) of pointers has
 * the buffer's address stored as a u64 at that offset of attr just before
 * the call (insns, license, log_buf, prog_ids). A writable buffer there
 * (bytearray) receives the kernel's output. Returns the syscall's result: a
 * new fd for BPF_PROG_LOAD and BPF_PROG_GET_FD_BY_ID, else 0.
 */
#define BPF_MAX_POINTERS 8

static PyObject *
sys_bpf(PyObject *self, PyObject *args)
{
    int cmd, saved_errno = 0;
    Py_buffer attr;
    PyObject *pointers = NULL, *seq = NULL, *result = NULL;
    Py_buffer bufs[BPF_MAX_POINTERS];
    Py_ssize_t n = 0, held = 0, i;
    long rc;
    if (!PyArg_ParseTuple(args, "iw*|O:bpf", &cmd, &attr, &pointers))
        return NULL;
    if (pointers != NULL) {
        seq = PySequence_Fast(pointers, "bpf: pointers must be a sequence of (offset, buffer)");
        if (seq == NULL)
            goto done;
        n = PySequence_Fast_GET_SIZE(seq);
        if (n > BPF_MAX_POINTERS) {
            PyErr_SetString(PyExc_ValueError, "bpf: too many pointers");
            goto done;
        }
    }
    for (i = 0; i < n; i++) {
        Py_ssize_t off;
        PyObject *obj;
        unsigned long long addr;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "nO:bpf pointer", &off, &obj))
            goto done;
        if (off < 0 || off % 8 != 0 || off + 8 > attr.len) {
            PyErr_Format(PyExc_ValueError, "bpf: pointer offset %zd is outside attr", off);
            goto done;
        }
        if (PyObject_GetBuffer(obj, &bufs[held], PyBUF_WRITABLE) < 0) {
            PyErr_Clear();
            if (PyObject_GetBuffer(obj, &bufs[held], PyBUF_SIMPLE) < 0)
                goto done;
        }
        addr = (unsigned long long)(uintptr_t)bufs[held].buf;
        held++;
        memcpy((char *)attr.buf + off, &addr, sizeof(addr));
    }
    Py_BEGIN_ALLOW_THREADS
    rc = syscall(SYS_bpf, cmd, attr.buf, (unsigned long)attr.len);
    if (rc < 0)
        saved_errno = errno;
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        errno = saved_errno;
        raise_errno(NULL);
        goto done;
    }
    result = PyLong_FromLong(rc);
done:
    for (i = 0; i < held; i++)
        PyBuffer_Release(&bufs[i]);
    Py_XDECREF(seq);
    PyBuffer_Release(&attr);
    return result;
}

/*
 * unshare_async(flags) / unshare_collect() -> (net fd, ipc fd): make new
 * network and IPC namespaces on a short-lived thread while the caller goes
 * on (the network namespace alone takes ~0.5 ms of kernel time). Namespaces
 * are per task, so a thread may unshare them without touching the rest of
 * the process; the fds it opens keep them alive after it exits, and a
 * process joins them with setns. One job at a time.
 */
#include <pthread.h>

static struct {
    pthread_t thread;
    int running, flags, err, netfd, ipcfd;
} ns_job;

static void *
ns_job_main(void *unused)
{
    (void)unused;
    ns_job.netfd = ns_job.ipcfd = -1;
    if (unshare(ns_job.flags) < 0) {
        ns_job.err = errno;
        return NULL;
    }
    if (ns_job.flags & CLONE_NEWNET) {
        ns_job.netfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (ns_job.netfd < 0) {
            ns_job.err = errno;
            return NULL;
        }
    }
    if (ns_job.flags & CLONE_NEWIPC) {
        ns_job.ipcfd = open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC);
        if (ns_job.ipcfd < 0)
            ns_job.err = errno;
    }
    return NULL;
}

static PyObject *
sys_unshare_async(PyObject *self, PyObject *args)
{
    int flags, rc;
    if (!PyArg_ParseTuple(args, "i:unshare_async", &flags))
        return NULL;
    if (ns_job.running) {
        PyErr_SetString(PyExc_RuntimeError, "unshare_async: a job is already running");
        return NULL;
    }
    if (flags & ~(CLONE_NEWNET | CLONE_NEWIPC)) {
        PyErr_SetString(PyExc_ValueError, "unshare_async: only CLONE_NEWNET and CLONE_NEWIPC");
        return NULL;
    }
    ns_job.flags = flags;
    ns_job.err = 0;
    rc = pthread_create(&ns_job.thread, NULL, ns_job_main, NULL);
    if (rc != 0) {
        errno = rc;
        return raise_errno(NULL);
    }
    ns_job.running = 1;
    Py_RETURN_NONE;
}

static PyObject *
sys_unshare_collect(PyObject *self, PyObject *args)
{
    if (!ns_job.running) {
        PyErr_SetString(PyExc_RuntimeError, "unshare_collect: no job");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    pthread_join(ns_job.thread, NULL);
    Py_END_ALLOW_THREADS
    ns_job.running = 0;
    if (ns_job.err) {
        if (ns_job.netfd >= 0)
            close(ns_job.netfd);
        if (ns_job.ipcfd >= 0)
            close(ns_job.ipcfd);
        errno = ns_job.err;
        return raise_errno(NULL);
    }
    return Py_BuildValue("(ii)", ns_job.netfd, ns_job.ipcfd);
}

/*
 * trampoline_memfd() -> fd: a sealed, close-on-exec memfd holding hull's
 * exec trampoline (hull/linux/trampoline.c, compiled by setup.py into the
 * generated hull_trampoline.h). Exec'ing it before the container's program
 * makes /proc/self/exe a private copy that nobody can write, never the
 * host's Python (CVE-2019-5736). ENOSYS where no trampoline was built for
 * the architecture; EACCES under vm.memfd_noexec=2.
 */
#include "hull_trampoline.h"

#ifndef SYS_memfd_create
#define SYS_memfd_create __NR_memfd_create
#endif
#ifndef SYS_execveat
#define SYS_execveat __NR_execveat
#endif
#define HULL_MFD_CLOEXEC 0x0001U
#define HULL_MFD_ALLOW_SEALING 0x0002U
#define HULL_MFD_EXEC 0x0010U
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

/* the trampoline's bytes, for the C init (initexec.c) */
const unsigned char *
hull_trampoline_data(size_t *size)
{
    *size = HULL_TRAMPOLINE_SIZE;
    return hull_trampoline;
}

static PyObject *
sys_trampoline_memfd(PyObject *self, PyObject *unused)
{
    const unsigned int flags = HULL_MFD_CLOEXEC | HULL_MFD_ALLOW_SEALING;
    size_t off = 0;
    ssize_t n;
    int fd, saved;
    if (HULL_TRAMPOLINE_SIZE == 0) {
        errno = ENOSYS;
        return raise_errno(NULL);
    }
    /* MFD_EXEC keeps it executable under vm.memfd_noexec=1; before 6.3 the flag is EINVAL */
    fd = (int)syscall(SYS_memfd_create, "hull-exec", flags | HULL_MFD_EXEC);
    if (fd < 0 && errno == EINVAL)
        fd = (int)syscall(SYS_memfd_create, "hull-exec", flags);
    if (fd < 0)
        return raise_errno(NULL);
    while (off < HULL_TRAMPOLINE_SIZE) {
        n = write(fd, hull_trampoline + off, HULL_TRAMPOLINE_SIZE - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        off += (size_t)n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
        goto fail;
    return PyLong_FromLong(fd);
fail:
    saved = errno ? errno : EIO;
    close(fd);
    errno = saved;
    return raise_errno(NULL);
}

/* A NULL-terminated char *[] over a sequence of str/bytes; *keep owns the bytes. */
static char **
to_cstrings(PyObject *obj, PyObject **keep)
{
    PyObject *seq, *b;
    Py_ssize_t n, i;
    char **out;
    *keep = NULL;
    seq = PySequence_Fast(obj, "execveat: argv and env must be sequences of str or bytes");
    if (seq == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(seq);
    out = PyMem_New(char *, n + 1);
    *keep = PyList_New(0);
    if (out == NULL || *keep == NULL) {
        if (out == NULL)
            PyErr_NoMemory();
        goto fail;
    }
    for (i = 0; i < n; i++) {
        if (!PyUnicode_FSConverter(PySequence_Fast_GET_ITEM(seq, i), &b))
            goto fail;
        if (PyList_Append(*keep, b) < 0) {
            Py_DECREF(b);
            goto fail;
        }
        Py_DECREF(b); /* *keep holds it */
        out[i] = PyBytes_AS_STRING(b);
    }
    out[n] = NULL;
    Py_DECREF(seq);
    return out;
fail:
    PyMem_Free(out);
    Py_CLEAR(*keep);
    Py_DECREF(seq);
    return NULL;
}

/*
 * execveat(fd, argv, env, keep_fd=-1): execveat(fd, "", argv, env,
 * AT_EMPTY_PATH), with keep_fd inheritable for this exec alone (it is
 * close-on-exec again if the exec fails; the trampoline marks it itself).
 * Unlike fexecve(3) there is no retry through /proc/self/fd, which in a
 * container is whatever its image put there. Returns only by raising OSError.
 */
static PyObject *
sys_execveat(PyObject *self, PyObject *args)
{
    int fd, keep_fd = -1, fdflags = -1, saved;
    PyObject *argv_obj, *env_obj, *argv_keep = NULL, *env_keep = NULL;
    char **argv = NULL, **envp = NULL;
    if (!PyArg_ParseTuple(args, "iOO|i:execveat", &fd, &argv_obj, &env_obj, &keep_fd))
        return NULL;
    argv = to_cstrings(argv_obj, &argv_keep);
    if (argv == NULL)
        goto done;
    if (argv[0] == NULL) {
        PyErr_SetString(PyExc_ValueError, "execveat: argv must not be empty");
        goto done;
    }
    envp = to_cstrings(env_obj, &env_keep);
    if (envp == NULL)
        goto done;
    if (keep_fd >= 0) {
        fdflags = fcntl(keep_fd, F_GETFD);
        if (fdflags < 0 || fcntl(keep_fd, F_SETFD, fdflags & ~FD_CLOEXEC) < 0) {
            raise_errno(NULL);
            goto done;
        }
    }
    syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
    saved = errno;
    if (keep_fd >= 0)
        fcntl(keep_fd, F_SETFD, fdflags);
    errno = saved;
    raise_errno(NULL);
done:
    PyMem_Free(argv);
    PyMem_Free(envp);
    Py_XDECREF(argv_keep);
    Py_XDECREF(env_keep);
    return NULL;
}

/* hull/linux/initexec.c: the container's init after the clone, in C */
extern PyObject *hull_init_spawn(PyObject *self, PyObject *args);
extern PyObject *hull_init_release(PyObject *self, PyObject *unused);
extern PyObject *hull_init_probe(PyObject *self, PyObject *unused);

static PyMethodDef sys_methods[] = {
    {"init_spawn", hull_init_spawn, METH_VARARGS, "init_spawn(flags, plan) -> pid: clone a CLONE_VM init that runs plan"},
    {"init_release", hull_init_release, METH_NOARGS, "init_release() -> bool: free the C init's memory once it left ours"},
    {"init_probe", hull_init_probe, METH_NOARGS, "init_probe() -> bool: whether plans can run here"},
    {"unshare_async", sys_unshare_async, METH_VARARGS, "unshare_async(flags): new net/ipc namespaces on a thread"},
    {"unshare_collect", sys_unshare_collect, METH_NOARGS, "unshare_collect() -> (net fd, ipc fd)"},
    {"bpf", sys_bpf, METH_VARARGS, "bpf(cmd, attr, pointers=()) -> int"},
    {"setrlimit", sys_setrlimit, METH_VARARGS, "setrlimit(resource, soft, hard)"},
    {"unshare", sys_unshare, METH_VARARGS, "unshare(flags)"},
    {"setns", sys_setns, METH_VARARGS, "setns(fd, nstype)"},
    {"clone", sys_clone, METH_VARARGS, "clone(flags) -> pid, like os.fork() with namespace flags"},
    {"mount", sys_mount, METH_VARARGS, "mount(source, target, fstype, flags, data)"},
    {"umount2", sys_umount2, METH_VARARGS, "umount2(target, flags)"},
    {"pivot_root", sys_pivot_root, METH_VARARGS, "pivot_root(new_root, put_old)"},
    {"sethostname", sys_sethostname, METH_VARARGS, "sethostname(name)"},
    {"setdomainname", sys_setdomainname, METH_VARARGS, "setdomainname(name)"},
    {"capget", sys_capget, METH_VARARGS, "capget(pid=0) -> (effective, permitted, inheritable)"},
    {"capset", sys_capset, METH_VARARGS, "capset(effective, permitted, inheritable)"},
    {"prctl", sys_prctl, METH_VARARGS, "prctl(option, arg2=0, arg3=0, arg4=0, arg5=0) -> int"},
    {"capbset_drop", sys_capbset_drop, METH_VARARGS, "capbset_drop(keep, last_cap)"},
    {"seccomp_load", sys_seccomp_load, METH_VARARGS, "seccomp_load(program, flags=0) -> int"},
    {"close_range", sys_close_range, METH_VARARGS, "close_range(first, last, flags=0)"},
    {"openat2", sys_openat2, METH_VARARGS, "openat2(dirfd, path, flags, resolve) -> fd"},
    {"syncfs", sys_syncfs, METH_VARARGS, "syncfs(fd)"},
    {"join_session_keyring", sys_join_session_keyring, METH_VARARGS, "join_session_keyring(name=None) -> serial"},
    {"trampoline_memfd", sys_trampoline_memfd, METH_NOARGS, "trampoline_memfd() -> sealed memfd of the exec trampoline"},
    {"execveat", sys_execveat, METH_VARARGS, "execveat(fd, argv, env, keep_fd=-1): exec an fd; returns only by raising"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef sys_module = {
    PyModuleDef_HEAD_INIT, "_sys", "Thin wrappers of Linux syscalls missing from os.", -1, sys_methods,
};

PyMODINIT_FUNC
PyInit__sys(void)
{
    return PyModule_Create(&sys_module);
}
