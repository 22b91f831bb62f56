#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct err_row {
    int code;
    int http;
    const char *name;
    const char *text;
};

static const struct err_row rows[] = {
#define GPF_ERR_ROW(sym, val, http, name, text) {val, http, name, text},
    GPF_ERRORS(GPF_ERR_ROW)
#undef GPF_ERR_ROW
};

static const struct err_row *find(int code)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].code == code)
            return &rows[i];
    return NULL;
}

const char *gpf_err_name(int code)
{
    const struct err_row *r = find(code);
    return r ? r->name : "internal";
}

const char *gpf_err_text(int code)
{
    const struct err_row *r = find(code);
    return r ? r->text : "internal error";
}

int gpf_err_http(int code)
{
    const struct err_row *r = find(code);
    return r ? r->http : 500;
}

int gpf_err_from_name(const char *name)
{
    if (!name)
        return GPF_EINTERNAL;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (strcmp(rows[i].name, name) == 0)
            return rows[i].code;
    return GPF_EINTERNAL;
}

int gpf_error_set(gpf_error *err, int code, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        err->msg[0] = '\0';
        if (fmt) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err->msg, sizeof err->msg, fmt, ap);
            va_end(ap);
        }
    }
    return code;
}

void gpf_error_clear(gpf_error *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

const char *gpf_error_msg(const gpf_error *err)
{
    if (!err)
        return "";
    if (err->msg[0])
        return err->msg;
    return gpf_err_text(err->code);
}
