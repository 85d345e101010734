/* SPDX-License-Identifier: MIT */
/* mongodb: writes every measurement to a MongoDB collection, one document
 * per point in the layout of upstream Alumet's mongodb plugin 0.1.0
 * (mongodb-doc.c), with libmongoc. A transient failure (no server, a
 * connection lost, a server that is not primary now) is retried by the core
 * (delivery policy); documents that the server refuses (writeErrors) are
 * dropped and counted. See README.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mongoc/mongoc.h>

#include "alumet/config.h"
#include "alumet/error.h"
#include "alumet/log.h"
#include "alumet/output.h"
#include "alumet/plugin.h"
#include "mongodb.h"
#include "util/http/httpoutput.h"

#define MONGODB_DEFAULT_CONFIG                                                                     \
    "[plugins.mongodb]\n"                                                                          \
    "# Off by default: it needs a server; set to true to use it\n"                                 \
    "enabled = false\n"                                                                            \
    "host = \"localhost\"\n"                                                                       \
    "port = 27017\n"                                                                               \
    "database = \"FILL ME\"\n"                                                                     \
    "collection = \"FILL ME\"\n"                                                                   \
    "# Credentials (optional: without username, no authentication)\n"                              \
    "# username = \"FILL ME\"\n"                                                                   \
    "# password = \"FILL ME\"\n"                                                                   \
    "# Time limits: to connect, and of one insert\n"                                               \
    "connect_timeout = \"5s\"\n"                                                                   \
    "request_timeout = \"30s\"\n"                                                                  \
    "# Measurements kept while MongoDB cannot be reached, retried until it can\n"                  \
    "# (past this, the oldest are dropped; 0: keep nothing, drop what fails)\n"                    \
    "max_buffered_points = 1000000\n"

/* The options, read in init; strings owned. */
struct mongodb_settings {
    char *host;
    int64_t port;
    char *database;
    char *collection;
    char *username; /* NULL: no authentication */
    char *password;
    alumet_time_ns connect_timeout;
    alumet_time_ns request_timeout;
    uint64_t max_buffered_points;
};

struct mongodb {
    struct mongodb_settings settings;
};

/* The output "out": owned by the core once registered. */
struct mongodb_output {
    struct alumet_log_topic *log;
    mongoc_client_t *client;
    mongoc_collection_t *coll;
    char *where;         /* for messages: "'localhost:27017' (collection 'db.coll')" */
    uint8_t *docs;       /* the documents of the last write, one after the other */
    size_t docs_size;    /* bytes allocated at docs */
    size_t *offsets;     /* document i starts at docs + offsets[i] */
    bson_t *views;       /* document i, a static view of docs (no copy) */
    const bson_t **ptrs; /* &views[i], what insert_many wants */
    size_t cap;          /* entries of offsets, views, ptrs */
    bson_t insert_opts;  /* { ordered: false }: one refused document does not stop the rest */
    struct httpoutput_complaint rejected; /* documents refused by the server */
};

/* Server error codes that pass by themselves (the retryable write errors of
 * the MongoDB drivers' specification, and authentication, which an
 * administrator may fix): the data is kept and sent again. */
static const uint32_t mongodb_transient_codes[] = {
    6, 7, 13, 18, 63, 89, 91, 150, 189, 234, 262, 9001, 10107, 11600, 11602, 13388, 13435, 13436,
};

static void mongodb_settings_done(struct mongodb_settings *s)
{
    free(s->host);
    free(s->database);
    free(s->collection);
    free(s->username);
    if (s->password) {
        explicit_bzero(s->password, strlen(s->password));
        free(s->password);
    }
    *s = (struct mongodb_settings){0};
}

static void mongodb_free(void *state)
{
    struct mongodb *db = state;
    if (!db)
        return;
    mongodb_settings_done(&db->settings);
    free(db);
}

static int mongodb_get_string(struct alumet_config *cfg, const char *key, const char *def,
                              char **ret, struct alumet_error *err)
{
    const char *v = NULL;
    int r = alumet_config_get_string(cfg, key, def, &v, err);
    if (r < 0)
        return r;
    *ret = NULL;
    if (v && !(*ret = strdup(v)))
        return alumet_error_set(err, -ENOMEM, "out of memory");
    return 0;
}

static int mongodb_read_options(struct alumet_config *cfg, struct mongodb_settings *s,
                                struct alumet_error *err)
{
    int64_t max_points = 0;
    int r = mongodb_get_string(cfg, "host", "localhost", &s->host, err);
    if (r == 0)
        r = alumet_config_get_int(cfg, "port", 27017, &s->port, err);
    if (r == 0)
        r = mongodb_get_string(cfg, "database", NULL, &s->database, err);
    if (r == 0)
        r = mongodb_get_string(cfg, "collection", NULL, &s->collection, err);
    if (r == 0)
        r = mongodb_get_string(cfg, "username", NULL, &s->username, err);
    if (r == 0)
        r = mongodb_get_string(cfg, "password", NULL, &s->password, err);
    if (r == 0)
        r = httpoutput_get_limits(cfg, &s->connect_timeout, &s->request_timeout, &max_points, err);
    if (r < 0)
        return r;
    if (!*s->host)
        return alumet_config_error(cfg, "host", err, -EINVAL,
                                   "expected a host name or address, such as \"localhost\"");
    if (s->port < 1 || s->port > 65535)
        return alumet_config_error(cfg, "port", err, -EINVAL,
                                   "expected a TCP port (1 to 65535), got %lld",
                                   (long long)s->port);
    /* "FILL ME" (the generated value) is refused at start, not here: an
     * upstream config file must pass `config check` */
    if (!s->database || !*s->database)
        return alumet_config_error(cfg, "database", err, -EINVAL,
                                   "expected the name of the database to write to");
    if (!s->collection || !*s->collection)
        return alumet_config_error(cfg, "collection", err, -EINVAL,
                                   "expected the name of the collection to write to");
    if (s->username && !s->password)
        return alumet_config_error(cfg, "username", err, -EINVAL,
                                   "a username needs a password: set password too");
    r = httpoutput_check_limits(cfg, s->connect_timeout, s->request_timeout, max_points, err);
    if (r < 0)
        return r;
    s->max_buffered_points = (uint64_t)max_points;
    return 0;
}

static int mongodb_init(struct alumet_config *cfg, void **ret_state, struct alumet_error *err)
{
    struct mongodb *db = calloc(1, sizeof(*db));
    if (!db)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    int r = mongodb_read_options(cfg, &db->settings, err);
    if (r < 0) {
        mongodb_free(db);
        return r;
    }
    mongoc_init(); /* once per process (pthread_once); see mongodb_cleanup */
    *ret_state = db;
    return 0;
}

/* libmongoc's global state, released when the program (or the module) ends:
 * mongoc_init cannot run again after mongoc_cleanup, and the plugin may be
 * started more than once. */
__attribute__((destructor)) static void mongodb_cleanup(void)
{
    mongoc_cleanup();
}

/* libmongoc's own messages, on the plugin's topic (set once, at start). */
static void mongodb_on_log(mongoc_log_level_t level, const char *domain, const char *message,
                           void *data)
{
    struct alumet_log_topic *log = data;
    enum alumet_log_level l =
        level <= MONGOC_LOG_LEVEL_WARNING ? ALUMET_LOG_WARN : ALUMET_LOG_DEBUG;
    alumet_log_at(log, l, "libmongoc %s: %s", domain, message);
}

static bool mongodb_is_transient_code(uint32_t code)
{
    for (size_t i = 0; i < sizeof(mongodb_transient_codes) / sizeof(mongodb_transient_codes[0]);
         i++)
        if (mongodb_transient_codes[i] == code)
            return true;
    return false;
}

/* Whether a failure (error of libmongoc) may pass by itself. */
static bool mongodb_is_transient(const bson_error_t *e)
{
    switch (e->domain) {
    case MONGOC_ERROR_SERVER:
    case MONGOC_ERROR_QUERY:
    case MONGOC_ERROR_COMMAND:
    case MONGOC_ERROR_WRITE_CONCERN:
        return mongodb_is_transient_code(e->code);
    case MONGOC_ERROR_BSON:
        return false;
    default:
        /* stream (no server, reset, timeout), server selection, protocol,
         * authentication (MONGOC_ERROR_CLIENT) */
        return true;
    }
}

static int mongodb_reserve(struct mongodb_output *o, size_t n)
{
    if (n <= o->cap)
        return 0;
    size_t cap = o->cap ? o->cap : 256;
    while (cap < n)
        cap *= 2;
    size_t *off = realloc(o->offsets, cap * sizeof(*off));
    if (!off)
        return -ENOMEM;
    o->offsets = off;
    bson_t *views = realloc(o->views, cap * sizeof(*views));
    if (!views)
        return -ENOMEM;
    o->views = views;
    const bson_t **ptrs = realloc(o->ptrs, cap * sizeof(*ptrs));
    if (!ptrs)
        return -ENOMEM;
    o->ptrs = ptrs;
    o->cap = cap;
    return 0;
}

/* The documents of buf, one after the other in o->docs (reused from one
 * write to the next: no allocation per point), then a view of each. */
static int mongodb_build_docs(struct mongodb_output *o, const struct alumet_buffer *buf,
                              const struct alumet_registry *reg, size_t n, struct alumet_error *err)
{
    bson_writer_t *w = bson_writer_new(&o->docs, &o->docs_size, 0, bson_realloc_ctx, NULL);
    int r = 0;

    if (!w)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n && r == 0; i++) {
        bson_t *doc;
        o->offsets[i] = bson_writer_get_length(w);
        if (!bson_writer_begin(w, &doc)) {
            r = alumet_error_set(err, -ENOMEM, "out of memory");
            break;
        }
        r = mongodb_doc_build(doc, buf, alumet_buffer_get(buf, i), reg);
        bson_writer_end(w);
        if (r < 0)
            alumet_error_set(err, r, "cannot build the document of point %zu: %s", i,
                             r == -EINVAL ? "unknown metric" : "too large");
    }
    size_t end = bson_writer_get_length(w);
    bson_writer_destroy(w);
    for (size_t i = 0; r == 0 && i < n; i++) {
        size_t len = (i + 1 < n ? o->offsets[i + 1] : end) - o->offsets[i];
        if (!bson_init_static(&o->views[i], o->docs + o->offsets[i], len))
            r = alumet_error_set(err, -EINVAL, "invalid document %zu", i);
        o->ptrs[i] = &o->views[i];
    }
    return r;
}

/* writeErrors of an insert reply: how many documents were refused, and the
 * message of the first one (borrowed from reply). */
static size_t mongodb_write_errors(const bson_t *reply, const char **ret_first)
{
    bson_iter_t it, arr;
    size_t n = 0;

    *ret_first = NULL;
    if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &arr))
        return 0;
    while (bson_iter_next(&arr)) {
        bson_iter_t e;
        if (n == 0 && BSON_ITER_HOLDS_DOCUMENT(&arr) && bson_iter_recurse(&arr, &e) &&
            bson_iter_find(&e, "errmsg") && BSON_ITER_HOLDS_UTF8(&e))
            *ret_first = bson_iter_utf8(&e, NULL);
        n++;
    }
    return n;
}

static int mongodb_output_write(void *data, const struct alumet_buffer *buf,
                                const struct alumet_registry *reg, struct alumet_error *err)
{
    struct mongodb_output *o = data;
    size_t n = alumet_buffer_len(buf);
    bson_error_t e = {0};
    bson_t reply;
    int r;

    if (n == 0)
        return 0;
    r = mongodb_reserve(o, n);
    if (r < 0)
        return alumet_error_set(err, r, "out of memory");
    r = mongodb_build_docs(o, buf, reg, n, err);
    if (r < 0)
        return r;
    bool ok = mongoc_collection_insert_many(o->coll, o->ptrs, n, &o->insert_opts, &reply, &e);
    if (ok) {
        bson_destroy(&reply);
        alumet_log_at(o->log, ALUMET_LOG_TRACE, "inserted %zu documents", n);
        return 0;
    }
    const char *first = NULL;
    size_t refused = mongodb_write_errors(&reply, &first);
    if (refused > 0) {
        /* the others were inserted (ordered: false) */
        char why[512];
        snprintf(why, sizeof(why), "%s", first ? first : e.message);
        bson_destroy(&reply);
        httpoutput_complain(o->log, &o->rejected, refused > n ? n : refused,
                            "were refused by MongoDB", ", dropping them", why);
        return refused >= n ? ALUMET_WRITE_DROP : 0;
    }
    bson_destroy(&reply);
    if (mongodb_is_transient(&e)) {
        alumet_error_set(err, -EIO, "cannot insert into MongoDB at %s: %s", o->where, e.message);
        return ALUMET_WRITE_RETRY;
    }
    httpoutput_complain(o->log, &o->rejected, n, "were refused by MongoDB", ", dropping them",
                        e.message);
    return ALUMET_WRITE_DROP;
}

static void mongodb_output_free(void *data)
{
    struct mongodb_output *o = data;
    if (!o)
        return;
    if (o->coll)
        mongoc_collection_destroy(o->coll);
    if (o->client)
        mongoc_client_destroy(o->client);
    mongoc_log_set_handler(NULL, NULL); /* the log topic may go before libmongoc */
    bson_destroy(&o->insert_opts);
    bson_free(o->docs);
    free(o->offsets);
    free(o->views);
    free(o->ptrs);
    free(o->where);
    free(o);
}

static const struct alumet_output_ops mongodb_output_ops = {
    .version = ALUMET_OUTPUT_OPS_V1,
    .write = mongodb_output_write,
    .free = mongodb_output_free,
};

static int32_t mongodb_ms(alumet_time_ns t)
{
    int64_t ms = (t + ALUMET_NSEC_PER_MSEC - 1) / ALUMET_NSEC_PER_MSEC;
    return ms > INT32_MAX ? INT32_MAX : (int32_t)ms;
}

/* The client of s: a URI built field by field (a password with '@' or ':'
 * needs no escaping, unlike upstream's "mongodb://user:pw@host:port/"). */
static int mongodb_connect(struct mongodb_output *o, const struct mongodb_settings *s,
                           struct alumet_error *err)
{
    mongoc_uri_t *uri = mongoc_uri_new_for_host_port(s->host, (uint16_t)s->port);
    int r = 0;

    if (!uri)
        return alumet_error_set(err, -EINVAL, "invalid MongoDB host '%s'", s->host);
    bool ok = mongoc_uri_set_appname(uri, "alumet") &&
              mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS,
                                             mongodb_ms(s->connect_timeout)) &&
              mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
                                             mongodb_ms(s->connect_timeout)) &&
              mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS,
                                             mongodb_ms(s->request_timeout));
    if (ok && s->username)
        ok = mongoc_uri_set_username(uri, s->username) && mongoc_uri_set_password(uri, s->password);
    if (!ok) {
        r = alumet_error_set(err, -EINVAL, "invalid MongoDB settings (host, username or password)");
        goto out;
    }
    o->client = mongoc_client_new_from_uri(uri);
    if (!o->client) {
        r = alumet_error_set(err, -EINVAL, "cannot create a MongoDB client for %s", o->where);
        goto out;
    }
    mongoc_client_set_error_api(o->client, MONGOC_ERROR_API_VERSION_2);
    o->coll = mongoc_client_get_collection(o->client, s->database, s->collection);
    if (!o->coll)
        r = alumet_error_set(err, -ENOMEM, "out of memory");
out:
    mongoc_uri_destroy(uri);
    return r;
}

/* The connection check: a ping (upstream inserts an empty document, which
 * stays in the collection, and stops on failure). A server that cannot be
 * reached now is not an error (the measurements wait for it); a server that
 * refuses the credentials is. */
static int mongodb_check_connection(struct mongodb_output *o, const struct mongodb_settings *s,
                                    struct alumet_error *err)
{
    bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
    bson_error_t e = {0};
    char why[700];

    if (!ping)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    bool ok = mongoc_client_command_simple(o->client, s->database, ping, NULL, NULL, &e);
    bson_destroy(ping);
    if (ok) {
        alumet_log_at(o->log, ALUMET_LOG_INFO, "connected to MongoDB at %s", o->where);
        return 0;
    }
    if (e.domain == MONGOC_ERROR_CLIENT && e.code == MONGOC_ERROR_CLIENT_AUTHENTICATE)
        return alumet_error_set(err, -EACCES,
                                "MongoDB at %s refused the credentials: %s; please check "
                                "username and password in the configuration",
                                o->where, e.message);
    snprintf(why, sizeof(why), "cannot reach MongoDB at %s: %s", o->where, e.message);
    httpoutput_warn_unreachable(o->log, why, "MongoDB", s->max_buffered_points);
    return 0;
}

static int mongodb_start(void *state, struct alumet_start_ctx *ctx, struct alumet_error *err)
{
    struct mongodb *db = state;
    const struct mongodb_settings *s = &db->settings;
    int r;

    if (strcmp(s->database, "FILL ME") == 0 || strcmp(s->collection, "FILL ME") == 0)
        return alumet_error_set(err, -EINVAL,
                                "plugins.mongodb: database and collection are still \"FILL ME\"; "
                                "set them to the database and collection to write to");
    struct mongodb_output *o = calloc(1, sizeof(*o));
    if (!o)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    bson_init(&o->insert_opts);
    o->log = alumet_start_log_topic(ctx);
    mongoc_log_set_handler(mongodb_on_log, o->log);
    if (asprintf(&o->where, "'%s:%lld' (collection '%s.%s')", s->host, (long long)s->port,
                 s->database, s->collection) < 0) {
        o->where = NULL;
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    if (!BSON_APPEND_BOOL(&o->insert_opts, "ordered", false)) {
        r = alumet_error_set(err, -ENOMEM, "out of memory");
        goto err_free;
    }
    r = mongodb_connect(o, s, err);
    if (r == 0)
        r = mongodb_check_connection(o, s, err);
    if (r < 0)
        goto err_free;

    struct alumet_output_opts opts = {0};
    opts.delivery.retry = s->max_buffered_points > 0;
    opts.delivery.max_points = (size_t)s->max_buffered_points;
    r = alumet_add_output(ctx, "out", &mongodb_output_ops, o, &opts, err);
    if (r < 0)
        goto err_free;
    return 0;

err_free:
    mongodb_output_free(o);
    return r;
}

/* The output belongs to the core once registered: nothing to release. */
static int mongodb_stop(void *state, struct alumet_error *err)
{
    (void)state;
    (void)err;
    return 0;
}

const struct alumet_plugin alumet_plugin_mongodb = {
    .abi_version = ALUMET_PLUGIN_ABI,
    .name = "mongodb",
    .version = "0.1.0",
    .default_config = MONGODB_DEFAULT_CONFIG,
    .init = mongodb_init,
    .start = mongodb_start,
    .stop = mongodb_stop,
    .free = mongodb_free,
};
