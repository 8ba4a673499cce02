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

static PyMethodDef sys_methods[] = {
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
    {"join_session_keyring", sys_join_session_keyring, METH_VARARGS, "join_session_keyring(name=None) -> serial"},
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
