/* Minimal read-only ZIP reader over an in-memory image (internal to wm/io).
 *
 * Only what PyTorch archives need: the central directory (with ZIP64 records, since a 10 GB model.pt
 * needs them), entry lookup by name, and access to STORED entries. torch.save writes every entry
 * uncompressed; a compressed or encrypted entry is rejected with its name rather than inflated.
 */
#ifndef WM_IO_ZIP_H
#define WM_IO_ZIP_H

#include "wm/core/log.h"

#include <stddef.h>
#include <stdint.h>

#define WM_ZIP_MAX_ENTRIES (1 << 20)

typedef struct wm_zip_entry {
    char *name;
    uint64_t size;        /* uncompressed size */
    uint64_t csize;       /* compressed size */
    uint64_t local_off;   /* offset of the local file header */
    int method, flags;
} wm_zip_entry;

typedef struct wm_zip {
    const uint8_t *base;
    size_t len;
    const char *file;     /* for messages */
    wm_zip_entry *e;      /* sorted by name */
    int n;
} wm_zip;

wm_status wm__zip_open(wm_zip *z, const uint8_t *base, size_t len, const char *file, wm_error *err);
void wm__zip_free(wm_zip *z);
const wm_zip_entry *wm__zip_find(const wm_zip *z, const char *name);
/* Bytes of a stored entry (validates its local header and bounds). */
wm_status wm__zip_data(const wm_zip *z, const wm_zip_entry *e, const uint8_t **data, wm_error *err);

#endif
