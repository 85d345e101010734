/* SPDX-License-Identifier: MIT */
/* Keys that no getter read, reported with a "did you mean" from the keys the
 * getters asked for:
 *
 *   alumet-config.toml:3:1: plugins.csv.outptu_path: unknown key, did you mean
 *   'output_path'?
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config-private.h"
#include "config-tree.h"
#include "util/edit-distance.h"

/* "did you mean": the known keys of a table, gathered once per table so that
 * reporting n unknown keys costs O(n * known), not O(n * table size). Keys
 * longer than SUGGEST_KEY_MAX get no suggestion, and after SUGGEST_BUDGET
 * distance computations in one table the rest are reported without one: a
 * config with 100k stray keys is reported in well under a second. */
#define SUGGEST_KEY_MAX 64
#define SUGGEST_BUDGET ((size_t)1 << 20)

struct config_known {
    const char **keys; /* borrowed from the table or its config_private */
    size_t n;
    size_t budget; /* distance computations left */
};

/* Known keys of t: keys asked by getters and absent (first: on a tie the user
 * most likely meant one of those), then present keys that were read, then
 * the keys of extra (a plugin's default section, or NULL). Out of memory,
 * there are none (budget 0). */
static void config_known_init(struct config_known *k, const struct toml_value *t,
                              const struct toml_value *extra)
{
    const struct config_private *cp = alumet__config_private_peek(t);
    size_t n = cp ? cp->n_asked : 0;
    size_t n_extra = extra && extra->type == TOML_TABLE ? extra->u.tab.len : 0;

    for (size_t i = 0; i < t->u.tab.len; i++)
        n += t->u.tab.items[i].val->used;
    n += n_extra;
    k->n = 0;
    k->budget = SUGGEST_BUDGET;
    k->keys = n ? calloc(n, sizeof(*k->keys)) : NULL;
    if (n && !k->keys) {
        k->budget = 0;
        return;
    }
    for (size_t i = 0; cp && i < cp->n_asked; i++)
        k->keys[k->n++] = cp->asked[i];
    for (size_t i = 0; i < t->u.tab.len; i++)
        if (t->u.tab.items[i].val->used)
            k->keys[k->n++] = t->u.tab.items[i].key;
    for (size_t i = 0; i < n_extra; i++)
        k->keys[k->n++] = extra->u.tab.items[i].key;
}

/* The closest known key to key, NULL when none is close enough. */
static const char *config_suggest(struct config_known *k, const char *key)
{
    size_t len = strlen(key);
    size_t best_d = len / 3 > 2 ? len / 3 : 2;
    const char *best = NULL;

    if (len > SUGGEST_KEY_MAX)
        return NULL;
    for (size_t i = 0; i < k->n && k->budget > 0; i++) {
        size_t klen = strlen(k->keys[i]);
        if (klen > SUGGEST_KEY_MAX || strcmp(k->keys[i], key) == 0)
            continue;
        /* a tie keeps the first found: only closer ones once there is a best */
        if (best && best_d <= 1)
            break;
        size_t max = best ? best_d - 1 : best_d;
        k->budget--;
        size_t d = edit_distance_within(key, len, k->keys[i], klen, max);
        if (d <= max) {
            best = k->keys[i];
            best_d = d;
        }
    }
    return best;
}

int alumet__config_report_unused(struct toml_value *t, void (*report)(void *data, const char *msg),
                                 void *data)
{
    return alumet__config_report_unused_except(t, NULL, report, data);
}

int alumet__config_report_unused_except(struct toml_value *t, const struct toml_value *known_tab,
                                        void (*report)(void *data, const char *msg), void *data)
{
    struct config_known known = {.keys = NULL};
    bool known_ready = false;
    int count = 0;

    if (!t || t->type != TOML_TABLE)
        return 0;
    for (size_t i = 0; i < t->u.tab.len; i++) {
        const struct toml_kv *kv = &t->u.tab.items[i];
        struct toml_value *v = kv->val;

        if (v->used) {
            /* after an init that stopped early, a table it read may hold
             * keys it had not reached yet: only the top level is judged */
            if (known_tab)
                continue;
            if (v->type == TOML_TABLE)
                count += alumet__config_report_unused(v, report, data);
            /* tables of an array that a plugin read (alumet_config_array_table) */
            for (size_t j = 0; v->type == TOML_ARRAY && j < v->u.arr.len; j++)
                if (v->u.arr.items[j]->used)
                    count += alumet__config_report_unused(v->u.arr.items[j], report, data);
            continue;
        }
        if (known_tab && known_tab->type == TOML_TABLE && toml_table_get(known_tab, kv->key))
            continue;
        count++;
        if (!report)
            continue;
        /* out of memory, no suggestions: the keys are reported all the same */
        if (!known_ready)
            config_known_init(&known, t, known_tab);
        known_ready = true;
        struct config_msg m = {.len = 0};
        alumet__config_msg_pos(&m, v->file ? v->file : t->file, kv->line, kv->col);
        alumet__config_msg_path(&m, v);
        const char *best = config_suggest(&known, kv->key);
        if (best)
            alumet__config_msg_add(&m, ": unknown key, did you mean '%s'?", best);
        else
            alumet__config_msg_add(&m, ": unknown key");
        report(data, m.buf);
    }
    free(known.keys);
    return count;
}
