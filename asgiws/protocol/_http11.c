/*
 * C accelerator for asgiws.protocol.http11: the request line and field lines
 * of a request head (RFC 9112 sections 3 and 5), read in one pass.
 *
 * `parse_request_head` is `http11._py_parse_request_head` in C, with the same
 * contract: the caller found the head's end and checked its size limits;
 * this reads the grammar of `grammar.REQUEST_LINE_RE` and
 * `grammar.FIELD_LINES_RE` byte by byte, lowercases the field names and
 * gathers the values of the special fields. It never raises for bad input:
 * it returns an int that says which rule failed, and the caller raises the
 * HTTPError that the pure-Python path raises for it, so that both paths
 * answer every request alike (tests/protocol/test_http11_speedups.py
 * feeds both the same bytes).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* Keep in step with http11's HEAD_* codes. */
#define HEAD_INVALID_REQUEST_LINE 1
#define HEAD_UNSUPPORTED_VERSION 2
#define HEAD_INVALID_FIELDS 3
#define HEAD_TOO_MANY_FIELDS 4

/* tchar (RFC 9110 section 5.6.2): VCHAR except the delimiters "(),/:;<=>?@[\]{}. */
static unsigned char is_tchar[256];
/* A byte a field value may hold: HTAB, SP to "~", obs-text (RFC 9110 section 5.5). */
static unsigned char is_field_char[256];
/* A byte a request target may hold: VCHAR, never obs-text (as grammar.REQUEST_LINE_RE). */
static unsigned char is_target_char[256];

static PyObject *method_names[9];
static const char *const method_spellings[9] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
};
static PyObject *version_1_0, *version_1_1;

static void
init_tables(void)
{
    int c;
    const char *delimiters = "\"(),/:;<=>?@[\\]{}";
    for (c = 0; c < 256; c++) {
        is_tchar[c] = c > 0x20 && c < 0x7f && strchr(delimiters, c) == NULL;
        is_field_char[c] = c == '\t' || (c >= 0x20 && c != 0x7f);
        is_target_char[c] = c > 0x20 && c < 0x7f;
    }
}

/* The method as a str: one of the standard ones (shared objects), else decoded as ASCII. */
static PyObject *
method_name(const char *start, Py_ssize_t size)
{
    int i;
    for (i = 0; i < 9; i++) {
        if ((Py_ssize_t)strlen(method_spellings[i]) == size && memcmp(start, method_spellings[i], size) == 0) {
            Py_INCREF(method_names[i]);
            return method_names[i];
        }
    }
    return PyUnicode_DecodeASCII(start, size, NULL);
}

/* The field name lowercased, as a new bytes object. */
static PyObject *
lower_name(const unsigned char *start, Py_ssize_t size)
{
    PyObject *name = PyBytes_FromStringAndSize(NULL, size);
    char *out;
    Py_ssize_t i;
    if (name == NULL)
        return NULL;
    out = PyBytes_AS_STRING(name);
    for (i = 0; i < size; i++) {
        unsigned char c = start[i];
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    return name;
}

/* Record `value` under `name` in `special` (a dict of lists). */
static int
add_special(PyObject *special, PyObject *name, PyObject *value)
{
    PyObject *values = PyDict_GetItemWithError(special, name);
    if (values != NULL)
        return PyList_Append(values, value);
    if (PyErr_Occurred())
        return -1;
    values = PyList_New(1);
    if (values == NULL)
        return -1;
    Py_INCREF(value);
    PyList_SET_ITEM(values, 0, value);
    if (PyDict_SetItem(special, name, values) < 0) {
        Py_DECREF(values);
        return -1;
    }
    Py_DECREF(values);
    return 0;
}

/*
 * parse_request_head(buf, line_end, end, max_headers, special_names)
 *   -> (method, target, http_version, headers, special) or an int HEAD_* code
 *
 * buf[:line_end] is the request line, buf[line_end:end + 2] the CRLF that
 * ends it and the field lines each ending with CRLF (end is where the head's
 * CRLFCRLF starts).
 */
static PyObject *
parse_request_head(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    const unsigned char *buf, *p, *line, *stop, *target_start, *name_start, *value_start, *value_stop, *eol, *colon;
    Py_ssize_t line_end, end, max_headers, count = 0;
    PyObject *special_names, *method = NULL, *target = NULL, *version, *headers = NULL, *special = NULL;
    PyObject *result = NULL;
    int code = 0;

    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "parse_request_head() takes 5 arguments");
        return NULL;
    }
    line_end = PyLong_AsSsize_t(args[1]);
    end = PyLong_AsSsize_t(args[2]);
    max_headers = PyLong_AsSsize_t(args[3]);
    if ((line_end == -1 || end == -1 || max_headers == -1) && PyErr_Occurred())
        return NULL;
    special_names = args[4];
    if (!PyAnySet_Check(special_names)) {
        PyErr_SetString(PyExc_TypeError, "special_names must be a set or frozenset");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (line_end < 0 || end < line_end || end + 2 > view.len) {
        PyErr_SetString(PyExc_ValueError, "line_end and end are not within the buffer");
        goto done;
    }
    buf = (const unsigned char *)view.buf;

    /* request-line = method SP request-target SP HTTP-version */
    p = buf;
    stop = buf + line_end;
    while (p < stop && is_tchar[*p])
        p++;
    if (p == buf || p == stop || *p != ' ') {
        code = HEAD_INVALID_REQUEST_LINE;
        goto done;
    }
    method = method_name((const char *)buf, p - buf);
    if (method == NULL)
        goto done;
    target_start = ++p;
    while (p < stop && is_target_char[*p])
        p++;
    /* the target ends at the SP before a version of exactly "HTTP/" DIGIT "." DIGIT */
    if (p == target_start || stop - p != 9 || p[0] != ' ' || memcmp(p + 1, "HTTP/", 5) != 0
        || p[6] < '0' || p[6] > '9' || p[7] != '.' || p[8] < '0' || p[8] > '9') {
        code = HEAD_INVALID_REQUEST_LINE;
        goto done;
    }
    if (p[6] != '1') {
        code = HEAD_UNSUPPORTED_VERSION;
        goto done;
    }
    version = p[8] == '0' ? version_1_0 : version_1_1;
    target = PyBytes_FromStringAndSize((const char *)target_start, p - target_start);
    if (target == NULL)
        goto done;

    /* field-line = field-name ":" OWS field-value OWS, each ending with CRLF */
    headers = PyList_New(0);
    special = PyDict_New();
    if (headers == NULL || special == NULL)
        goto done;
    stop = buf + end; /* the CR of the CRLFCRLF, where the last line ends */
    line = buf + line_end + 2;
    while (line_end < end) {
        PyObject *name, *value, *pair;
        int found;
        /* one line: [line, eol), eol at the CRLF that ends it */
        eol = line;
        while (eol < stop && *eol != '\r' && *eol != '\n')
            eol++;
        if (eol < stop && (eol[0] != '\r' || eol[1] != '\n')) {
            code = HEAD_INVALID_FIELDS; /* a bare CR or LF */
            goto done;
        }
        name_start = p = line;
        while (p < eol && is_tchar[*p])
            p++;
        if (p == name_start || p == eol || *p != ':') {
            code = HEAD_INVALID_FIELDS; /* no name, obs-fold, no colon, or a byte outside tchar */
            goto done;
        }
        colon = p++;
        while (p < eol && (*p == ' ' || *p == '\t'))
            p++;
        value_start = p;
        value_stop = eol;
        while (value_stop > value_start && (value_stop[-1] == ' ' || value_stop[-1] == '\t'))
            value_stop--;
        for (; p < value_stop; p++) {
            if (!is_field_char[*p]) {
                code = HEAD_INVALID_FIELDS;
                goto done;
            }
        }
        name = lower_name(name_start, colon - name_start);
        if (name == NULL)
            goto done;
        value = PyBytes_FromStringAndSize((const char *)value_start, value_stop - value_start);
        if (value == NULL) {
            Py_DECREF(name);
            goto done;
        }
        pair = PyTuple_Pack(2, name, value);
        found = pair == NULL ? -1 : PySet_Contains(special_names, name);
        if (found < 0 || PyList_Append(headers, pair) < 0 || (found && add_special(special, name, value) < 0)) {
            Py_XDECREF(pair);
            Py_DECREF(name);
            Py_DECREF(value);
            goto done;
        }
        Py_DECREF(pair);
        Py_DECREF(name);
        Py_DECREF(value);
        count++;
        if (eol == stop)
            break;
        line = eol + 2;
    }
    if (count > max_headers) {
        code = HEAD_TOO_MANY_FIELDS;
        goto done;
    }
    result = PyTuple_Pack(5, method, target, version, headers, special);

done:
    PyBuffer_Release(&view);
    Py_XDECREF(method);
    Py_XDECREF(target);
    Py_XDECREF(headers);
    Py_XDECREF(special);
    if (code)
        return PyLong_FromLong(code);
    return result;
}

static PyMethodDef http11_methods[] = {
    {"parse_request_head", (PyCFunction)(void (*)(void))parse_request_head, METH_FASTCALL,
     "parse_request_head(buf, line_end, end, max_headers, special_names) -> tuple or int: "
     "the request line and field lines of a head (see http11._py_parse_request_head)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef http11_module = {
    PyModuleDef_HEAD_INIT,
    "asgiws.protocol._http11",
    "C accelerator for the HTTP/1.1 request head (RFC 9112 sections 3 and 5).",
    -1,
    http11_methods,
};

PyMODINIT_FUNC
PyInit__http11(void)
{
    int i;
    init_tables();
    for (i = 0; i < 9; i++) {
        if (method_names[i] == NULL) {
            method_names[i] = PyUnicode_InternFromString(method_spellings[i]);
            if (method_names[i] == NULL)
                return NULL;
        }
    }
    if (version_1_0 == NULL) {
        version_1_0 = PyUnicode_InternFromString("1.0");
        version_1_1 = PyUnicode_InternFromString("1.1");
        if (version_1_0 == NULL || version_1_1 == NULL)
            return NULL;
    }
    return PyModule_Create(&http11_module);
}
