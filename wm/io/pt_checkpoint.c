/* PyTorch model.pt reader (placeholder until the zip reader and unpickler land). */
#include "wm/io/ck_internal.h"

wm_status wm__pt_parse(wm_checkpoint *ck, int shard, wm_error *err)
{
    return wm__errf(err, WM_ERR_UNSUPPORTED, "%s: PyTorch checkpoints are not supported yet", ck->shards[shard].path);
}
