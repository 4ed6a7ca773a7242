/*
 * C accelerator for asgiws.protocol: XOR a payload with a 4-byte masking
 * key (RFC 6455 section 5.3), and the hot paths of frame parsing and
 * serialising that build on it.
 *
 * The key is widened to 8 bytes (16 with SSE2) and applied 64 bytes per
 * iteration with unaligned SSE2 loads, then 8 bytes at a time through
 * memcpy'd uint64_t words (alignment-safe, portable), then byte by byte.
 *
 * `read_messages` turns the complete, unfragmented, extension-free data
 * frames at the start of a buffer into message events, unmasking each
 * payload straight into the bytes object or the UTF-8 decoder's input: no
 * intermediate frame object, no masked copy. It stops at the first frame
 * it does not handle (control, fragmented, RSV bits, bad mask bit, over
 * the size limit, invalid UTF-8, incomplete): the pure-Python parser takes
 * it from there and raises whatever error it deserves, so the two paths
 * cannot disagree. `data_frame` builds an unmasked frame in one allocation,
 * encoding a str straight into it.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* dst[i] = src[i] ^ key[i & 3] for i < len. dst may equal src. */
static void
xor_mask(unsigned char *dst, const unsigned char *src, Py_ssize_t len, const unsigned char *key)
{
    Py_ssize_t i = 0;
    uint64_t key8, word;
    unsigned char key_bytes[8];

    memcpy(key_bytes, key, 4);
    memcpy(key_bytes + 4, key, 4);
    memcpy(&key8, key_bytes, 8);

#ifdef __SSE2__
    {
        /* 64 bytes per iteration: four unaligned 16-byte loads and stores. */
        __m128i key16 = _mm_set1_epi64x((long long)key8);
        for (; i + 64 <= len; i += 64) {
            __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
            __m128i b = _mm_loadu_si128((const __m128i *)(src + i + 16));
            __m128i c = _mm_loadu_si128((const __m128i *)(src + i + 32));
            __m128i d = _mm_loadu_si128((const __m128i *)(src + i + 48));
            _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(a, key16));
            _mm_storeu_si128((__m128i *)(dst + i + 16), _mm_xor_si128(b, key16));
            _mm_storeu_si128((__m128i *)(dst + i + 32), _mm_xor_si128(c, key16));
            _mm_storeu_si128((__m128i *)(dst + i + 48), _mm_xor_si128(d, key16));
        }
    }
#endif
    for (; i + 8 <= len; i += 8) {
        memcpy(&word, src + i, 8);
        word ^= key8;
        memcpy(dst + i, &word, 8);
    }
    /* i is a multiple of 8, hence of 4: the tail starts at key index 0. */
    for (; i < len; i++)
        dst[i] = src[i] ^ key[i & 3];
}

static PyObject *
apply_mask(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data, mask;
    PyObject *result;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "apply_mask() takes exactly 2 arguments (data, mask)");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[1], &mask, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (mask.len != 4) {
        PyErr_SetString(PyExc_ValueError, "mask must contain 4 bytes");
        result = NULL;
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, data.len);
    if (result != NULL)
        xor_mask((unsigned char *)PyBytes_AS_STRING(result), (const unsigned char *)data.buf, data.len,
                 (const unsigned char *)mask.buf);

done:
    PyBuffer_Release(&mask);
    PyBuffer_Release(&data);
    return result;
}

/* Payloads up to this size are unmasked on the stack before UTF-8 decoding. */
#define STACK_TEXT 512

/*
 * The payload of one data frame as a str (opcode 1) or bytes (opcode 2);
 * NULL with no exception set when a text payload is not valid UTF-8.
 */
static PyObject *
frame_payload(int opcode, const unsigned char *src, Py_ssize_t len, const unsigned char *key)
{
    PyObject *payload;
    unsigned char stack[STACK_TEXT];
    unsigned char *plain;

    if (opcode == 2) {
        if (key == NULL)
            return PyBytes_FromStringAndSize((const char *)src, len);
        payload = PyBytes_FromStringAndSize(NULL, len);
        if (payload != NULL)
            xor_mask((unsigned char *)PyBytes_AS_STRING(payload), src, len, key);
        return payload;
    }
    if (key == NULL) {
        plain = (unsigned char *)src;
    } else if (len <= STACK_TEXT) {
        plain = stack;
    } else {
        plain = PyMem_Malloc(len);
        if (plain == NULL)
            return PyErr_NoMemory();
    }
    if (key != NULL)
        xor_mask(plain, src, len, key);
    payload = PyUnicode_DecodeUTF8((const char *)plain, len, "strict");
    if (plain != stack && plain != src)
        PyMem_Free(plain);
    if (payload == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
        PyErr_Clear(); /* the Python parser reports it, with its close code */
    return payload;
}

/*
 * read_messages(buf, pos, require_mask, max_payload, events, text_event, binary_event) -> int
 *
 * Appends text_event(str) / binary_event(bytes) to `events` for each
 * complete unfragmented data frame without RSV bits from buf[pos:], and
 * returns the position after the last one. max_payload < 0: no limit.
 */
static PyObject *
read_messages(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    const unsigned char *buf, *key;
    Py_ssize_t pos, size, avail, head, length, max_payload;
    int require_mask, opcode;
    unsigned char b0, b1;
    uint64_t length64;
    PyObject *events, *text_event, *binary_event, *payload, *event;

    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "read_messages() takes exactly 7 arguments");
        return NULL;
    }
    pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred())
        return NULL;
    require_mask = PyObject_IsTrue(args[2]);
    if (require_mask < 0)
        return NULL;
    max_payload = PyLong_AsSsize_t(args[3]);
    if (max_payload == -1 && PyErr_Occurred())
        return NULL;
    events = args[4];
    text_event = args[5];
    binary_event = args[6];
    if (!PyList_Check(events)) {
        PyErr_SetString(PyExc_TypeError, "events must be a list");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    buf = (const unsigned char *)view.buf;
    size = view.len;
    if (pos < 0 || pos > size) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "pos out of range");
        return NULL;
    }

    for (;;) {
        avail = size - pos;
        if (avail < 2)
            break;
        b0 = buf[pos];
        b1 = buf[pos + 1];
        if (b0 != 0x81 && b0 != 0x82) /* FIN, no RSV bit, text or binary */
            break;
        if (((b1 & 0x80) != 0) != (require_mask != 0))
            break;
        opcode = b0 & 0x0F;
        length = b1 & 0x7F;
        head = 2;
        if (length == 126) {
            if (avail < 4)
                break;
            length = ((Py_ssize_t)buf[pos + 2] << 8) | buf[pos + 3];
            head = 4;
        } else if (length == 127) {
            if (avail < 10)
                break;
            length64 = 0;
            for (int i = 2; i < 10; i++)
                length64 = (length64 << 8) | buf[pos + i];
            if (length64 > (uint64_t)PY_SSIZE_T_MAX / 2)
                break; /* the Python parser decides what that is */
            length = (Py_ssize_t)length64;
            head = 10;
        }
        if (max_payload >= 0 && length > max_payload)
            break;
        if (require_mask)
            head += 4;
        if (avail - head < length)
            break;
        key = require_mask ? buf + pos + head - 4 : NULL;
        payload = frame_payload(opcode, buf + pos + head, length, key);
        if (payload == NULL) {
            if (PyErr_Occurred())
                goto error;
            break; /* invalid UTF-8 */
        }
        event = PyObject_CallOneArg(opcode == 1 ? text_event : binary_event, payload);
        Py_DECREF(payload);
        if (event == NULL)
            goto error;
        if (PyList_Append(events, event) < 0) {
            Py_DECREF(event);
            goto error;
        }
        Py_DECREF(event);
        pos += head + length;
    }
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(pos);

error:
    PyBuffer_Release(&view);
    return NULL;
}

/*
 * data_frame(first_byte, payload) -> bytes: an unmasked frame, header and
 * payload in one allocation; a str payload is encoded to UTF-8 into it.
 */
static PyObject *
data_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    const char *data;
    Py_ssize_t len, head;
    long b0;
    int is_str;
    PyObject *result, *encoded = NULL;
    unsigned char *out;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "data_frame() takes exactly 2 arguments (first_byte, payload)");
        return NULL;
    }
    b0 = PyLong_AsLong(args[0]);
    if (b0 == -1 && PyErr_Occurred())
        return NULL;
    if (b0 < 0 || b0 > 255) {
        PyErr_SetString(PyExc_ValueError, "first_byte out of range");
        return NULL;
    }
    is_str = PyUnicode_Check(args[1]);
    if (is_str) {
        if ((b0 & 0x0F) != 1) {
            PyErr_SetString(PyExc_TypeError, "a str payload needs the text opcode");
            return NULL;
        }
        if (PyUnicode_IS_COMPACT_ASCII(args[1])) {
            data = (const char *)PyUnicode_DATA(args[1]);
            len = PyUnicode_GET_LENGTH(args[1]);
        } else {
            /* Not PyUnicode_AsUTF8AndSize: it would keep a UTF-8 copy in the str for its lifetime. */
            encoded = PyUnicode_AsUTF8String(args[1]);
            if (encoded == NULL)
                return NULL;
            data = PyBytes_AS_STRING(encoded);
            len = PyBytes_GET_SIZE(encoded);
        }
    } else {
        if (PyObject_GetBuffer(args[1], &view, PyBUF_SIMPLE) < 0)
            return NULL;
        data = (const char *)view.buf;
        len = view.len;
    }
    head = len < 126 ? 2 : len < 65536 ? 4 : 10;
    result = PyBytes_FromStringAndSize(NULL, head + len);
    if (result != NULL) {
        out = (unsigned char *)PyBytes_AS_STRING(result);
        out[0] = (unsigned char)b0;
        if (head == 2) {
            out[1] = (unsigned char)len;
        } else if (head == 4) {
            out[1] = 126;
            out[2] = (unsigned char)(len >> 8);
            out[3] = (unsigned char)len;
        } else {
            out[1] = 127;
            for (int i = 0; i < 8; i++)
                out[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        }
        memcpy(out + head, data, len);
    }
    if (is_str)
        Py_XDECREF(encoded);
    else
        PyBuffer_Release(&view);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"apply_mask", (PyCFunction)(void (*)(void))apply_mask, METH_FASTCALL,
     "apply_mask(data, mask) -> bytes: XOR data with the 4-byte mask, repeated."},
    {"read_messages", (PyCFunction)(void (*)(void))read_messages, METH_FASTCALL,
     "read_messages(buf, pos, require_mask, max_payload, events, text_event, binary_event) -> int: "
     "append the complete unfragmented data frames from buf[pos:] as events; the position after them."},
    {"data_frame", (PyCFunction)(void (*)(void))data_frame, METH_FASTCALL,
     "data_frame(first_byte, payload) -> bytes: an unmasked frame; a str payload is encoded to UTF-8."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    "asgiws.protocol._speedups",
    "C accelerator for WebSocket masking and frames (RFC 6455 sections 5.2, 5.3).",
    -1,
    speedups_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&speedups_module);
}
