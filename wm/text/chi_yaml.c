/* Read the complex human instruction from an official Sana / SANA-WM config.yaml
 * (text_encoder.chi_prompt: a list of lines, joined with "\n" as the reference does), so a checkpoint
 * whose config carries a different CHI (e.g. a video variant) is encoded with its own text. Uses libyaml's
 * event parser and only walks the text_encoder mapping; everything else is skipped by nesting depth.
 */
#include "wm/text/text_encoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct sbuf { char *p; size_t n, cap; } sbuf;

static int sbuf_add(sbuf *b, const char *s, size_t len)
{
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->n + len + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
    return 0;
}

/* State machine over events: depth 1 = top mapping, depth 2 = text_encoder mapping. */
typedef struct walk {
    int depth, in_te, expect_key, key_is_chi, in_chi, found, lines;
    char last_key[64];
    sbuf out;
} walk;

static int on_scalar(walk *w, const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (w->in_chi) {
        if ((w->lines++ && sbuf_add(&w->out, "\n", 1)) || sbuf_add(&w->out, v, len)) return -1;
        return 0;
    }
    if (w->expect_key) {
        snprintf(w->last_key, sizeof w->last_key, "%.*s", (int)len, v);
        w->expect_key = 0;
    } else {
        w->expect_key = 1; /* a scalar value ends the pair */
    }
    return 0;
}

static void on_event(walk *w, const yaml_event_t *ev, int *err)
{
    switch (ev->type) {
    case YAML_MAPPING_START_EVENT:
        w->in_te = w->depth == 1 && !strcmp(w->last_key, "text_encoder") ? 1 : w->in_te;
        w->depth++;
        w->expect_key = 1;
        break;
    case YAML_MAPPING_END_EVENT:
        w->depth--;
        if (w->depth == 1) w->in_te = 0;
        w->expect_key = 1;
        break;
    case YAML_SEQUENCE_START_EVENT:
        if (w->in_te && w->depth == 2 && !strcmp(w->last_key, "chi_prompt")) { w->in_chi = 1; w->found = 1; }
        w->depth++;
        break;
    case YAML_SEQUENCE_END_EVENT:
        w->depth--;
        w->in_chi = 0;
        w->expect_key = 1;
        break;
    case YAML_SCALAR_EVENT:
        if (on_scalar(w, ev)) *err = 1;
        break;
    default: break;
    }
}

/* *chi: malloc'd CHI text. WM_ERR_NOT_FOUND when the file has no text_encoder.chi_prompt list (then the
 * reference uses no CHI for that model; callers usually fall back to the SANA-WM default). */
wm_status wm_text_chi_from_yaml(const char *path, char **chi, wm_error *err)
{
    *chi = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return wm__errf(err, WM_ERR_IO, "%s: cannot open", path);
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    walk w = {0};
    int done = 0, fail = 0;
    while (!done && !fail) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) { fail = 2; break; }
        on_event(&w, &ev, &fail);
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    wm_status st = WM_OK;
    if (fail == 2)
        st = wm__errf(err, WM_ERR_FORMAT, "%s:%zu: %s", path, parser.problem_mark.line + 1,
                      parser.problem ? parser.problem : "YAML error");
    else if (fail) st = wm__errf(err, WM_ERR_OUT_OF_MEMORY, "out of memory");
    else if (!w.found) st = wm__errf(err, WM_ERR_NOT_FOUND, "%s: no text_encoder.chi_prompt list", path);
    yaml_parser_delete(&parser);
    fclose(f);
    if (st != WM_OK) { free(w.out.p); return st; }
    *chi = w.out.p ? w.out.p : strdup("");
    return *chi ? WM_OK : wm__errf(err, WM_ERR_OUT_OF_MEMORY, "out of memory");
}
