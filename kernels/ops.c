/* Op dispatch: wm_<op>(be, ...) calls be->ops-><op>. Generated from the op lists so that adding an op
 * is one line in an ops_*.def file plus its implementations. A backend that lacks an op answers
 * WM_ERR_UNSUPPORTED naming it, instead of crashing on a NULL slot. */
#include "kernels/ops.h"

#include <stdio.h>

wm_status wm__op_check(wm_backend *be, const char *op, int cond, wm_status code, const char *what)
{
    (void)cond;
    return wm__errf(be ? &be->err : NULL, code, "%s: %s", op, what);
}

#define WM__OP_DISPATCH(name, params, args)                                                        \
    wm_status wm_##name params                                                                     \
    {                                                                                              \
        if (!be->ops->name)                                                                        \
            return wm__errf(&be->err, WM_ERR_UNSUPPORTED, "op %s is not implemented on the %s backend", \
                            #name, wm_backend_name(be));                                          \
        if (be->op_observer) be->op_observer(be->op_observer_ctx, WM_OP_##name);                  \
        return be->ops->name args;                                                                 \
    }
WM_OPS_ALL(WM__OP_DISPATCH)
#undef WM__OP_DISPATCH

const char *wm_op_name(int op_id)
{
#define WM__OP_NAME(name, params, args) #name,
    static const char *const names[] = {WM_OPS_ALL(WM__OP_NAME)};
#undef WM__OP_NAME
    return op_id >= 0 && op_id < WM_OP_COUNT ? names[op_id] : "?";
}
