/* Small HTTP/JSON client over libcurl: one reused easy handle per gpf_httpc. */
#include "util/httpc.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/buf.h"

#ifndef GPF_VERSION
#define GPF_VERSION "dev"
#endif

#define MAX_RESPONSE ((size_t)16 * 1024 * 1024)

struct gpf_httpc {
    CURL *h;
    char *base;   /* without trailing slash */
    char *token;  /* may be NULL */
    long timeout_ms;
    char *ca_file;  /* NULL = the system's store */
    char *pin;      /* NULL = none */
    char errbuf[CURL_ERROR_SIZE];
};

/* The response being received: the body grows up to MAX_RESPONSE. */
struct sink {
    gpf_buf body;
    int too_large;
    int fd;             /* a download: the body goes here (when > 0) instead */
    long long limit;    /* a download: at most this many bytes */
    long long written;
    int write_failed;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb;
    if (s->fd > 0) {
        if (s->written + (long long)n > s->limit) {
            s->too_large = 1;
            return 0;
        }
        for (size_t off = 0; off < n;) {
            ssize_t w = write(s->fd, data + off, n - off);
            if (w <= 0) {
                s->write_failed = 1;
                return 0;
            }
            off += (size_t)w;
        }
        s->written += (long long)n;
        return n;
    }
    if (s->body.len + n > MAX_RESPONSE) {
        s->too_large = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    gpf_buf_append(&s->body, data, n);
    return n;
}

int gpf_httpc_new(const char *base_url, const char *token, gpf_httpc **out, gpf_error *err)
{
    int rc = 0;
    gpf_httpc *c = NULL;
    size_t n;

    *out = NULL;
    if (!base_url || (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0)) {
        rc = gpf_error_set(err, GPF_EINVAL, "server URL must start with http:// or https:// (got '%s')",
                           base_url ? base_url : "");
        goto out;
    }
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        rc = gpf_error_set(err, GPF_EINTERNAL, "curl_global_init: %s", curl_easy_strerror(global_rc));
        goto out;
    }
    c = GPF_NEW(gpf_httpc);
    c->h = curl_easy_init();
    if (!c->h) {
        rc = gpf_error_set(err, GPF_EINTERNAL, "curl_easy_init failed");
        goto out;
    }
    c->base = gpf_strdup(base_url);
    n = strlen(c->base);
    while (n > 0 && c->base[n - 1] == '/')
        c->base[--n] = '\0';
    c->token = gpf_strdup(token);
    c->timeout_ms = 30000;
    *out = c;
    c = NULL;
out:
    gpf_httpc_free(c);
    return rc;
}

void gpf_httpc_free(gpf_httpc *c)
{
    if (!c)
        return;
    if (c->h)
        curl_easy_cleanup(c->h);
    gpf_free(c->base);
    gpf_free(c->token);
    gpf_free(c->ca_file);
    gpf_free(c->pin);
    gpf_free(c);
}

void gpf_httpc_set_token(gpf_httpc *c, const char *token)
{
    if (!c)
        return;
    gpf_free(c->token);
    c->token = gpf_strdup(token);
}

void gpf_httpc_set_timeout_ms(gpf_httpc *c, long ms)
{
    if (c)
        c->timeout_ms = ms > 0 ? ms : 30000;
}

/* 1 when pin is one or more ';'-separated "sha256//" + 44 base64 characters. */
static int pin_valid(const char *pin)
{
    const char *p = pin;
    for (;;) {
        size_t n = strcspn(p, ";");
        if (n != 8 + 44 || strncmp(p, "sha256//", 8) != 0)
            return 0;
        for (size_t i = 8; i < n; i++)
            if (!isalnum((unsigned char)p[i]) && !strchr("+/=", p[i]))
                return 0;
        if (!p[n])
            return 1;
        p += n + 1;
    }
}

int gpf_httpc_set_tls(gpf_httpc *c, const gpf_httpc_tls *tls, gpf_error *err)
{
    const char *ca = tls && tls->ca_file && *tls->ca_file ? tls->ca_file : NULL;
    const char *pin = tls && tls->pin && *tls->pin ? tls->pin : NULL;
    if (!c)
        return gpf_error_set(err, GPF_EINVAL, "no HTTP client");
    if ((ca || pin) && strncmp(c->base, "https://", 8) != 0)
        return gpf_error_set(err, GPF_EINVAL,
                             "a CA file or pin is given but %s is not https://: nothing would be verified", c->base);
    if (pin && !pin_valid(pin))
        return gpf_error_set(err, GPF_EINVAL, "a pin is sha256// and 44 base64 characters (got '%s')", pin);
    if (ca && access(ca, R_OK) != 0)
        return gpf_error_set(err, GPF_ENOTFOUND, "CA file %s: %s", ca, strerror(errno));
    gpf_free(c->ca_file);
    gpf_free(c->pin);
    c->ca_file = ca ? gpf_strdup(ca) : NULL;
    c->pin = pin ? gpf_strdup(pin) : NULL;
    return 0;
}

/* Verification of an https server: always on; against the CA file and pin when set. */
static void apply_tls(gpf_httpc *c)
{
    curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_file)
        curl_easy_setopt(c->h, CURLOPT_CAINFO, c->ca_file);
    if (c->pin)
        curl_easy_setopt(c->h, CURLOPT_PINNEDPUBLICKEY, c->pin);
}

/* The message of a transport failure: what to do about an untrusted certificate or a
 * pin that does not match, else curl's words. */
static int transport_error(gpf_httpc *c, CURLcode cc, gpf_error *err)
{
    const char *why = c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc);
    if (cc == CURLE_PEER_FAILED_VERIFICATION)
        return gpf_error_set(err, GPF_EUNAVAIL,
                             "cannot reach %s: its certificate is not trusted (%s); give the CA that signed it "
                             "with --ca-file (GPUFLEET_CA_FILE)", c->base, why);
    if (cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
        return gpf_error_set(err, GPF_EUNAVAIL, "cannot reach %s: its public key does not match the pin (%s)", c->base,
                             c->pin ? c->pin : "");
    return gpf_error_set(err, GPF_EUNAVAIL, "cannot reach %s: %s", c->base, why);
}

/* Maps an HTTP status without a usable error body onto a code. */
static int code_from_status(long status)
{
    switch (status) {
    case 400: return GPF_EMALFORMED;
    case 401: return GPF_EUNAUTH;
    case 403: return GPF_EFORBIDDEN;
    case 404: return GPF_ENOTFOUND;
    case 405: return GPF_EMETHOD;
    case 409: return GPF_EEXIST;
    case 413: return GPF_ETOOLARGE;
    case 422: return GPF_EINVAL;
    case 501: return GPF_ENOTSUP;
    case 502:
    case 503: return GPF_EUNAVAIL;
    case 504: return GPF_ETIMEOUT;
    default: return GPF_EINTERNAL;
    }
}

/* Turns a non-2xx answer into a code and message: the body's {"error":{...}} when present. */
static int error_from_body(gpf_httpc *c, long status, const char *body, size_t len, gpf_error *err)
{
    int rc;
    json_t *root = NULL;
    const char *name = NULL, *msg = NULL;

    if (len > 0)
        root = json_loadb(body, len, 0, NULL);
    if (root && json_is_object(root)) {
        json_t *e = json_object_get(root, "error");
        if (json_is_object(e)) {
            name = json_string_value(json_object_get(e, "code"));
            msg = json_string_value(json_object_get(e, "message"));
        }
    }
    rc = name ? gpf_err_from_name(name) : code_from_status(status);
    if (rc == GPF_EINTERNAL && !name)
        rc = code_from_status(status);
    if (rc == GPF_OK)
        rc = GPF_EINTERNAL;
    if (msg && *msg)
        gpf_error_set(err, rc, "%s", msg);
    else if (name)
        gpf_error_set(err, rc, "%s", gpf_err_text(rc));
    else
        gpf_error_set(err, rc, "HTTP %ld from %s", status, c->base);
    json_decref(root);
    return rc;
}

/* Performs one exchange; on success *status is set and s->body holds the body. */
static int perform(gpf_httpc *c, const char *method, const char *path, const char *payload,
                   struct sink *s, long *status, gpf_error *err)
{
    int rc = 0;
    CURLcode cc;
    struct curl_slist *hdrs = NULL;
    gpf_buf url = {0}, auth = {0};

    if (!path || path[0] != '/') {
        rc = gpf_error_set(err, GPF_EINVAL, "request path must start with '/'");
        goto out;
    }
    gpf_buf_printf(&url, "%s%s", c->base, path);
    curl_easy_reset(c->h); /* keeps the connection cache */
    c->errbuf[0] = '\0';
    curl_easy_setopt(c->h, CURLOPT_URL, gpf_buf_cstr(&url));
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms < 10000 ? c->timeout_ms : 10000L);
    curl_easy_setopt(c->h, CURLOPT_USERAGENT, "gpufleet/" GPF_VERSION);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, s);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    apply_tls(c);
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (c->token && *c->token) {
        gpf_buf_printf(&auth, "Authorization: Bearer %s", c->token);
        hdrs = curl_slist_append(hdrs, gpf_buf_cstr(&auth));
    }
    /* "Content-Type:" stops curl from labelling an empty POST as a form */
    hdrs = curl_slist_append(hdrs, payload ? "Content-Type: application/json" : "Content-Type:");
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);

    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c->h, CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
        if (payload || strcmp(method, "POST") == 0) {
            curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, payload ? payload : "");
            curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)(payload ? strlen(payload) : 0));
        }
    }

    cc = curl_easy_perform(c->h);
    if (s->too_large) {
        rc = gpf_error_set(err, GPF_ETOOLARGE, "response from %s exceeds %lld MiB", c->base,
                           (s->fd > 0 ? s->limit : (long long)MAX_RESPONSE) >> 20);
        goto out;
    }
    if (s->write_failed) {
        rc = gpf_error_set(err, GPF_EIO, "cannot write what %s sends", c->base);
        goto out;
    }
    if (cc != CURLE_OK) {
        rc = transport_error(c, cc, err);
        goto out;
    }
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, status);
out:
    curl_slist_free_all(hdrs);
    gpf_buf_clear(&url);
    gpf_buf_clear(&auth);
    return rc;
}

static int blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)p[i]))
            return 0;
    return 1;
}

int gpf_httpc_request(gpf_httpc *c, const char *method, const char *path, json_t *body,
                      int *status, json_t **resp, gpf_error *err)
{
    int rc = 0;
    long st = 0;
    char *payload = NULL;
    struct sink s = {0};
    json_error_t jerr;

    if (status)
        *status = 0;
    if (resp)
        *resp = NULL;
    if (!c || !method) {
        rc = gpf_error_set(err, GPF_EINVAL, "no HTTP client or method");
        goto out;
    }
    if (body) {
        payload = json_dumps(body, JSON_COMPACT);
        if (!payload) {
            rc = gpf_error_set(err, GPF_EINVAL, "request body cannot be encoded as JSON");
            goto out;
        }
    }
    rc = perform(c, method, path, payload, &s, &st, err);
    if (rc != 0)
        goto out;
    if (status)
        *status = (int)st;
    if (st < 200 || st > 299) {
        rc = error_from_body(c, st, s.body.data, s.body.len, err);
        goto out;
    }
    if (s.body.len == 0 || blank(s.body.data, s.body.len) || !resp)
        goto out;
    *resp = json_loadb(s.body.data, s.body.len, 0, &jerr);
    if (!*resp)
        rc = gpf_error_set(err, GPF_EMALFORMED, "invalid JSON from %s: %s", c->base, jerr.text);
out:
    if (payload)
        free(payload); /* allocated by jansson */
    gpf_buf_clear(&s.body);
    return rc;
}

int gpf_httpc_get_text(gpf_httpc *c, const char *path, char **text, int *status, gpf_error *err)
{
    int rc = 0;
    long st = 0;
    struct sink s = {0};

    *text = NULL;
    if (status)
        *status = 0;
    if (!c) {
        rc = gpf_error_set(err, GPF_EINVAL, "no HTTP client");
        goto out;
    }
    rc = perform(c, "GET", path, NULL, &s, &st, err);
    if (rc != 0)
        goto out;
    if (status)
        *status = (int)st;
    if (st < 200 || st > 299) {
        rc = error_from_body(c, st, s.body.data, s.body.len, err);
        goto out;
    }
    gpf_buf_cstr(&s.body);
    *text = gpf_buf_steal(&s.body);
out:
    gpf_buf_clear(&s.body);
    return rc;
}

int gpf_httpc_download(gpf_httpc *c, const char *path, int fd, long long max_bytes, long timeout_ms,
                       long long *bytes, gpf_error *err)
{
    long st = 0, saved = c ? c->timeout_ms : 0;
    struct sink s = {0};
    if (bytes)
        *bytes = 0;
    if (!c || fd <= 0 || max_bytes <= 0)
        return gpf_error_set(err, GPF_EINVAL, "download: no client, file or size limit");
    s.fd = fd;
    s.limit = max_bytes;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : saved;
    int rc = perform(c, "GET", path, NULL, &s, &st, err);
    c->timeout_ms = saved;
    if (rc == 0 && (st < 200 || st > 299))
        rc = gpf_error_set(err, code_from_status(st), "GET %s: HTTP %ld", path, st);
    if (bytes)
        *bytes = s.written;
    gpf_buf_clear(&s.body);
    return rc;
}
