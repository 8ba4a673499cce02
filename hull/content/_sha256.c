/*
 * hull.content._sha256: SHA-256 with the x86 SHA extensions, and two
 * streams hashed at once.
 *
 * Why: a pull hashes every layer twice, the blob as downloaded and the
 * tar inside it (its diff ID). That was ~45% of hulld's CPU in a pull.
 * One SHA-256 stream is bound by the latency of SHA256RNDS2 (each round
 * pair needs the previous one's result), so a core can run a second,
 * independent stream in the gaps: `update_pair` hashes the blob and the
 * tar in lockstep, 64-byte block by block, at ~1.3x the bytes per second
 * of hashing them one after the other (measured on this project's machine).
 *
 * The block functions follow FIPS 180-4 with the SHA-NI instructions
 * (message schedule with SHA256MSG1/MSG2, two rounds per SHA256RNDS2, the
 * working state kept as ABEF/CDGH). Without those instructions (another
 * CPU or architecture) `ACCELERATED` is False and hull uses hashlib.
 *
 * A Sha256 object is not for concurrent use: the GIL is released while a
 * large buffer is hashed, so a second thread updating the same object at
 * that moment gets a RuntimeError instead of a corrupt digest.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_SHANI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* below this many bytes, hashing is cheaper than releasing the GIL */
#define NOGIL_MIN 8192

typedef struct {
    PyObject_HEAD
    uint32_t st[8]; /* ABEF then CDGH, as the SHA-NI rounds keep them */
    uint64_t total; /* bytes fed */
    uint8_t buf[64];
    unsigned int buflen;
    int busy;
} Sha256Object;

#ifdef HAVE_SHANI
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define SHANI __attribute__((target("sha,sse4.1,ssse3")))

/*
 * The SHA instructions have only the legacy SSE encoding. After AVX code
 * that left the upper halves of the vector registers dirty (ISA-L's
 * inflate, glibc's memcpy), each of them pays a state transition: measured
 * here, a pair ran 3x slower after an inflate. VZEROUPPER clears that state
 * (it exists only where AVX does).
 */
static int has_avx;

__attribute__((target("avx"))) static void
clean_upper(void)
{
    _mm256_zeroupper();
}

#define ENTER_SSE()            \
    do {                       \
        if (has_avx)           \
            clean_upper();     \
    } while (0)

/* the big-endian words of a block, as four vectors */
#define BSWAP_MASK _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL)

/*
 * Four rounds of one stream. W holds the schedule's last 16 words in
 * w[r&3] (oldest) .. w[(r+3)&3]; from round group 4 on, the group's words
 * are computed in place: W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16].
 */
#define ROUNDS4(s0, s1, w, r)                                                        \
    do {                                                                             \
        __m128i m_;                                                                  \
        if ((r) >= 4) {                                                              \
            __m128i t_ = _mm_sha256msg1_epu32(w[(r)&3], w[((r) + 1) & 3]);           \
            t_ = _mm_add_epi32(t_, _mm_alignr_epi8(w[((r) + 3) & 3], w[((r) + 2) & 3], 4)); \
            w[(r)&3] = _mm_sha256msg2_epu32(t_, w[((r) + 3) & 3]);                   \
        }                                                                            \
        m_ = _mm_add_epi32(w[(r)&3], _mm_loadu_si128((const __m128i *)&K[4 * (r)])); \
        s1 = _mm_sha256rnds2_epu32(s1, s0, m_);                                      \
        s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m_, 0x0E));             \
    } while (0)

SHANI static void
blocks1(uint32_t *st, const uint8_t *d, size_t n)
{
    const __m128i mask = BSWAP_MASK;
    __m128i s0, s1;
    ENTER_SSE();
    s0 = _mm_loadu_si128((const __m128i *)st);
    s1 = _mm_loadu_si128((const __m128i *)(st + 4));
    while (n--) {
        __m128i a0 = s0, a1 = s1, w[4];
        for (int i = 0; i < 4; i++)
            w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(d + 16 * i)), mask);
#pragma GCC unroll 16
        for (int r = 0; r < 16; r++)
            ROUNDS4(s0, s1, w, r);
        s0 = _mm_add_epi32(s0, a0);
        s1 = _mm_add_epi32(s1, a1);
        d += 64;
    }
    _mm_storeu_si128((__m128i *)st, s0);
    _mm_storeu_si128((__m128i *)(st + 4), s1);
}

/* n blocks of each of two independent streams, their rounds interleaved */
SHANI static void
blocks2(uint32_t *sta, const uint8_t *da, uint32_t *stb, const uint8_t *db, size_t n)
{
    const __m128i mask = BSWAP_MASK;
    __m128i s0, s1, t0, t1;
    ENTER_SSE();
    s0 = _mm_loadu_si128((const __m128i *)sta);
    s1 = _mm_loadu_si128((const __m128i *)(sta + 4));
    t0 = _mm_loadu_si128((const __m128i *)stb);
    t1 = _mm_loadu_si128((const __m128i *)(stb + 4));
    while (n--) {
        __m128i a0 = s0, a1 = s1, b0 = t0, b1 = t1, w[4], v[4];
        for (int i = 0; i < 4; i++) {
            w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(da + 16 * i)), mask);
            v[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(db + 16 * i)), mask);
        }
#pragma GCC unroll 16
        for (int r = 0; r < 16; r++) {
            ROUNDS4(s0, s1, w, r);
            ROUNDS4(t0, t1, v, r);
        }
        s0 = _mm_add_epi32(s0, a0);
        s1 = _mm_add_epi32(s1, a1);
        t0 = _mm_add_epi32(t0, b0);
        t1 = _mm_add_epi32(t1, b1);
        da += 64;
        db += 64;
    }
    _mm_storeu_si128((__m128i *)sta, s0);
    _mm_storeu_si128((__m128i *)(sta + 4), s1);
    _mm_storeu_si128((__m128i *)stb, t0);
    _mm_storeu_si128((__m128i *)(stb + 4), t1);
}

static int accelerated;

static int
probe(void)
{
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    if (!(c & bit_SSSE3) || !(c & bit_SSE4_1))
        return 0;
    /* AVX usable: the CPU has it and the OS saves its state (OSXSAVE, XCR0 bits 1-2) */
    if ((c & bit_AVX) && (c & bit_OSXSAVE)) {
        unsigned int lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        has_avx = (lo & 6) == 6;
    }
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & bit_SHA) != 0;
}
#else
static int accelerated;
static void
blocks1(uint32_t *st, const uint8_t *d, size_t n)
{
    (void)st, (void)d, (void)n;
}
static void
blocks2(uint32_t *sta, const uint8_t *da, uint32_t *stb, const uint8_t *db, size_t n)
{
    (void)sta, (void)da, (void)stb, (void)db, (void)n;
}
static int
probe(void)
{
    return 0;
}
#endif

/* FIPS 180-4's initial hash value, in ABEF/CDGH order */
static const uint32_t INIT[8] = {
    0x9b05688c, 0x510e527f, 0xbb67ae85, 0x6a09e667, /* F E B A */
    0x5be0cd19, 0x1f83d9ab, 0xa54ff53a, 0x3c6ef372, /* H G D C */
};

/* Fill a partial block from *d; hash it when complete. */
static void
top_up(Sha256Object *h, const uint8_t **d, size_t *n)
{
    size_t take;
    if (h->buflen == 0)
        return;
    take = 64 - h->buflen;
    if (take > *n)
        take = *n;
    memcpy(h->buf + h->buflen, *d, take);
    h->buflen += (unsigned int)take;
    *d += take;
    *n -= take;
    if (h->buflen == 64) {
        blocks1(h->st, h->buf, 1);
        h->buflen = 0;
    }
}

static void
keep_tail(Sha256Object *h, const uint8_t *d, size_t n)
{
    memcpy(h->buf + h->buflen, d, n);
    h->buflen += (unsigned int)n;
}

static void
feed1(Sha256Object *h, const uint8_t *d, size_t n)
{
    h->total += n;
    top_up(h, &d, &n);
    if (n >= 64) {
        blocks1(h->st, d, n / 64);
        d += n & ~(size_t)63;
        n &= 63;
    }
    if (n)
        keep_tail(h, d, n);
}

static void
feed2(Sha256Object *a, const uint8_t *da, size_t na, Sha256Object *b, const uint8_t *db, size_t nb)
{
    size_t both;
    a->total += na;
    b->total += nb;
    top_up(a, &da, &na);
    top_up(b, &db, &nb);
    if (a->buflen == 0 && b->buflen == 0) {
        both = na / 64 < nb / 64 ? na / 64 : nb / 64;
        if (both) {
            blocks2(a->st, da, b->st, db, both);
            da += both * 64, na -= both * 64;
            db += both * 64, nb -= both * 64;
        }
    }
    /* what one stream has beyond the other: one at a time */
    a->total -= na, b->total -= nb;
    feed1(a, da, na);
    feed1(b, db, nb);
}

static PyTypeObject Sha256Type;

static PyObject *
sha256_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    Sha256Object *h;
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, ":Sha256", kwlist))
        return NULL;
    if (!accelerated) {
        PyErr_SetString(PyExc_RuntimeError, "this CPU has no SHA extensions: use hashlib");
        return NULL;
    }
    h = (Sha256Object *)type->tp_alloc(type, 0);
    if (h == NULL)
        return NULL;
    memcpy(h->st, INIT, sizeof INIT);
    return (PyObject *)h;
}

static int
claim(Sha256Object *h)
{
    if (h->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Sha256 object used by two threads at once");
        return -1;
    }
    h->busy = 1;
    return 0;
}

static PyObject *
sha256_update(Sha256Object *self, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (claim(self) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    if (view.len >= NOGIL_MIN) {
        Py_BEGIN_ALLOW_THREADS
        feed1(self, view.buf, (size_t)view.len);
        Py_END_ALLOW_THREADS
    } else {
        feed1(self, view.buf, (size_t)view.len);
    }
    self->busy = 0;
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
}

/* The digest of what was fed so far (the object stays usable). */
static void
finish(const Sha256Object *self, uint8_t out[32])
{
    Sha256Object h = *self;
    uint8_t pad[72] = {0x80};
    size_t padlen = (h.buflen < 56 ? 56 : 120) - h.buflen;
    uint64_t bits = self->total * 8;
    uint32_t w[8];
    for (int i = 0; i < 8; i++)
        pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
    feed1(&h, pad, padlen + 8);
    /* ABEF/CDGH back to A..H */
    w[0] = h.st[3], w[1] = h.st[2], w[2] = h.st[7], w[3] = h.st[6];
    w[4] = h.st[1], w[5] = h.st[0], w[6] = h.st[5], w[7] = h.st[4];
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(w[i] >> 24);
        out[4 * i + 1] = (uint8_t)(w[i] >> 16);
        out[4 * i + 2] = (uint8_t)(w[i] >> 8);
        out[4 * i + 3] = (uint8_t)w[i];
    }
}

static PyObject *
sha256_digest(Sha256Object *self, PyObject *unused)
{
    uint8_t out[32];
    (void)unused;
    if (claim(self) < 0)
        return NULL;
    finish(self, out);
    self->busy = 0;
    return PyBytes_FromStringAndSize((const char *)out, 32);
}

static PyObject *
sha256_hexdigest(Sha256Object *self, PyObject *unused)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t out[32];
    char text[64];
    (void)unused;
    if (claim(self) < 0)
        return NULL;
    finish(self, out);
    self->busy = 0;
    for (int i = 0; i < 32; i++) {
        text[2 * i] = hex[out[i] >> 4];
        text[2 * i + 1] = hex[out[i] & 15];
    }
    return PyUnicode_FromStringAndSize(text, 64);
}

static PyObject *
update_pair(PyObject *module, PyObject *args)
{
    PyObject *oa, *ob;
    Py_buffer va, vb;
    Sha256Object *a, *b;
    (void)module;
    if (!PyArg_ParseTuple(args, "O!y*O!y*:update_pair", &Sha256Type, &oa, &va, &Sha256Type, &ob,
                          &vb))
        return NULL;
    a = (Sha256Object *)oa;
    b = (Sha256Object *)ob;
    if (a == b) {
        PyErr_SetString(PyExc_ValueError, "update_pair needs two different Sha256 objects");
        goto fail;
    }
    if (claim(a) < 0)
        goto fail;
    if (claim(b) < 0) {
        a->busy = 0;
        goto fail;
    }
    if (va.len + vb.len >= NOGIL_MIN) {
        Py_BEGIN_ALLOW_THREADS
        feed2(a, va.buf, (size_t)va.len, b, vb.buf, (size_t)vb.len);
        Py_END_ALLOW_THREADS
    } else {
        feed2(a, va.buf, (size_t)va.len, b, vb.buf, (size_t)vb.len);
    }
    a->busy = b->busy = 0;
    PyBuffer_Release(&va);
    PyBuffer_Release(&vb);
    Py_RETURN_NONE;
fail:
    PyBuffer_Release(&va);
    PyBuffer_Release(&vb);
    return NULL;
}

static PyObject *
sha256_size(Sha256Object *self, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLongLong(self->total);
}

static PyMethodDef sha256_methods[] = {
    {"update", (PyCFunction)sha256_update, METH_O, "Feed bytes."},
    {"digest", (PyCFunction)sha256_digest, METH_NOARGS, "The 32-byte digest so far."},
    {"hexdigest", (PyCFunction)sha256_hexdigest, METH_NOARGS, "The digest so far, in hex."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef sha256_getset[] = {
    {"size", (getter)sha256_size, NULL, "Bytes fed so far.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject Sha256Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "hull.content._sha256.Sha256",
    .tp_basicsize = sizeof(Sha256Object),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "SHA-256 with the x86 SHA extensions.",
    .tp_new = sha256_new,
    .tp_methods = sha256_methods,
    .tp_getset = sha256_getset,
};

static PyMethodDef module_methods[] = {
    {"update_pair", update_pair, METH_VARARGS,
     "update_pair(a, data_a, b, data_b): feed two Sha256 objects, their blocks hashed in lockstep."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef sha256_module = {
    PyModuleDef_HEAD_INIT, "_sha256", "SHA-256 with the x86 SHA extensions.", -1, module_methods,
};

PyMODINIT_FUNC
PyInit__sha256(void)
{
    PyObject *m;
    accelerated = probe();
    if (PyType_Ready(&Sha256Type) < 0)
        return NULL;
    m = PyModule_Create(&sha256_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&Sha256Type);
    if (PyModule_AddObject(m, "Sha256", (PyObject *)&Sha256Type) < 0 ||
        PyModule_AddIntConstant(m, "ACCELERATED", accelerated) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
