/* Gemma-2 tokenizer: SentencePiece-BPE with byte fallback, read from the checkpoint's own files.
 *
 * Sana loads Gemma's tokenizer with transformers' AutoTokenizer, i.e. the `tokenizers` library reading
 * tokenizer.json, so that file is the reference and is preferred: added tokens (<bos>, <start_of_turn>,
 * ...) are matched in the raw text first, the rest is normalised (Replace " " -> U+2581), split by the
 * pre-tokenizer (a no-op for Gemma), BPE-merged by merge rank with unknown characters falling back to
 * <0xXX> byte pieces, and the post-processor template adds <bos>. When only tokenizer.model (the
 * SentencePiece protobuf) is present the same pipeline is built from it, ranking merges by piece score
 * as SentencePiece does (docs/text.md lists the few places where the two formats could disagree).
 * No Python at run time; inputs are validated (strict UTF-8, size limits) and every failure names the
 * file or the byte offset.
 */
#ifndef WM_TEXT_TOKENIZER_H
#define WM_TEXT_TOKENIZER_H

#include "wm/core/log.h"

#include <stddef.h>
#include <stdint.h>

typedef struct wm_tokenizer wm_tokenizer;

/* Longest text accepted by wm_tokenizer_encode, in bytes (a prompt is a few hundred tokens; this bound
 * keeps the quadratic worst cases of added-token matching and BPE small). */
#define WM_TOKENIZER_MAX_INPUT (1u << 20)

/* path: a directory holding tokenizer.json (preferred) or tokenizer.model, or one of those files.
 * Errors: WM_ERR_NOT_FOUND (no tokenizer file), WM_ERR_IO, WM_ERR_FORMAT (malformed file, message names
 * the file and the field), WM_ERR_UNSUPPORTED (a tokenizer.json feature Gemma does not use). */
wm_status wm_tokenizer_load(const char *path, wm_tokenizer **out, wm_error *err);
void wm_tokenizer_free(wm_tokenizer *t);

/* Tokenise text[0..len) (need not be NUL-terminated). add_special: apply the post-processor template
 * (Gemma: prepend <bos>), as HF's add_special_tokens=True. On success *ids is a malloc'd array of *n ids
 * (caller frees; non-NULL even when *n == 0). Errors: WM_ERR_INVALID_ARG for invalid UTF-8 (message gives
 * the byte offset), WM_ERR_LIMIT for text longer than WM_TOKENIZER_MAX_INPUT. Thread-safe (const). */
wm_status wm_tokenizer_encode(const wm_tokenizer *t, const char *text, size_t len, int add_special, int32_t **ids,
                              int *n, wm_error *err);

/* Length of the longest valid UTF-8 prefix of s[0..len) (== len when all of it is valid). */
size_t wm_utf8_valid_prefix(const char *s, size_t len);

int wm_tokenizer_vocab_size(const wm_tokenizer *t);        /* 1 + largest id */
int32_t wm_tokenizer_find(const wm_tokenizer *t, const char *piece); /* id of an exact piece, -1 if none */
/* The piece text of id (not NUL-terminated; *len set) or NULL for an id without a piece. */
const char *wm_tokenizer_piece(const wm_tokenizer *t, int32_t id, int *len);
int32_t wm_tokenizer_bos(const wm_tokenizer *t);
int32_t wm_tokenizer_pad(const wm_tokenizer *t);
const char *wm_tokenizer_source(const wm_tokenizer *t);   /* the file it was read from */

#endif
