/* camera.c -- the §4.9 velocity model and pose integrator (see camera.h for the semantics).
 *
 * Mirrors the reference step by step (VelocityState.snap_to/step_toward, CameraPoseIntegrator.step)
 * in double precision, including its small quirks, so DSL rollouts agree with the reference to float32
 * rounding: the horizontal axes are normalised by (|v| + 1e-6), and a newly pressed key snaps every
 * velocity component, also ones that were coasting.
 */
#include "input/camera.h"

#include <math.h>
#include <string.h>

#define DEG2RAD (3.14159265358979323846 / 180.0)

/* Keys whose fresh press snaps the velocity (the reference's control tokens plus our vertical pair);
 * FAST is a modifier, so pressing Shift ramps the speed up smoothly instead of snapping. */
#define MOTION_KEYS (WM_KEY_FORWARD | WM_KEY_BACK | WM_KEY_STRAFE_LEFT | WM_KEY_STRAFE_RIGHT |        \
                     WM_KEY_UP | WM_KEY_DOWN | WM_KEY_YAW_LEFT | WM_KEY_YAW_RIGHT | WM_KEY_PITCH_UP |  \
                     WM_KEY_PITCH_DOWN)

wm_camera_params wm_camera_default_params(void)
{
    wm_camera_params p;
    memset(&p, 0, sizeof p);
    wm_camera_params_resolve(&p);
    return p;
}

void wm_camera_params_resolve(wm_camera_params *p)
{
    if (p->fps <= 0) p->fps = 16.0f;
    if (p->move_speed <= 0) p->move_speed = 0.025f;
    if (p->rot_speed_deg <= 0) p->rot_speed_deg = 0.6f;
    if (p->pitch_limit_deg <= 0) p->pitch_limit_deg = 60.0f;
    if (p->tau_press_s <= 0) p->tau_press_s = 0.45f;
    if (p->tau_coast_s <= 0) p->tau_coast_s = 1.0f;
    /* 2.5x: fast enough to cross a room in a few seconds, slow enough to stay near the speeds the
     * model was trained on. */
    if (p->fast_mult <= 0) p->fast_mult = 2.5f;
    if (p->width <= 0) p->width = 1280;
    if (p->height <= 0) p->height = 704;
    /* 60 deg: a typical handheld/phone field of view, inside the 25-120 deg range the reference
     * accepts for estimated intrinsics. */
    if (p->hfov_deg <= 0 || p->hfov_deg >= 179) p->hfov_deg = 60.0f;
    if (p->fx <= 0) {
        p->fx = (float)(0.5 * p->width / tan(0.5 * p->hfov_deg * DEG2RAD));
        p->fy = p->fx;
        p->cx = 0.5f * (float)p->width;
        p->cy = 0.5f * (float)p->height;
    } else if (p->fy <= 0) {
        p->fy = p->fx;
    }
}

static double clamp1(double v) { return v < -1.0 ? -1.0 : (v > 1.0 ? 1.0 : v); }
static double axis(uint32_t keys, uint32_t pos, uint32_t neg, float analog)
{
    double d = ((keys & pos) ? 1.0 : 0.0) - ((keys & neg) ? 1.0 : 0.0);
    return clamp1(d + (isfinite(analog) ? analog : 0.0f));
}

/* Target velocity of an action in per-frame units. */
static void target_velocity(const wm_camera_params *p, const wm_action *a, double tgt[WM_CAM_V_COUNT])
{
    uint32_t k = a->keys;
    double mv = p->move_speed * ((k & WM_KEY_FAST) ? p->fast_mult : 1.0);
    double rot = p->rot_speed_deg * DEG2RAD;
    tgt[WM_CAM_V_FWD] = axis(k, WM_KEY_FORWARD, WM_KEY_BACK, a->move_z) * mv;
    tgt[WM_CAM_V_STRAFE] = axis(k, WM_KEY_STRAFE_RIGHT, WM_KEY_STRAFE_LEFT, a->move_x) * mv;
    tgt[WM_CAM_V_YAW] = axis(k, WM_KEY_YAW_RIGHT, WM_KEY_YAW_LEFT, a->yaw) * rot;
    tgt[WM_CAM_V_PITCH] = axis(k, WM_KEY_PITCH_UP, WM_KEY_PITCH_DOWN, a->pitch) * rot;
    tgt[WM_CAM_V_UP] = axis(k, WM_KEY_UP, WM_KEY_DOWN, a->move_y) * mv;
}

static void update_velocity(wm_camera_state *s, const wm_action *a)
{
    double tgt[WM_CAM_V_COUNT];
    target_velocity(&s->p, a, tgt);
    uint32_t keys = a->keys & MOTION_KEYS;
    int fresh = (keys & ~s->last_keys) != 0;
    s->last_keys = keys;
    double dt = 1.0 / s->p.fps;
    for (int i = 0; i < WM_CAM_V_COUNT; i++) {
        if (s->p.no_smoothing || fresh) {
            s->vel[i] = tgt[i];
            continue;
        }
        double tau = fabs(tgt[i]) > 1e-12 ? s->p.tau_press_s : s->p.tau_coast_s;
        double alpha = 1.0 - exp(-dt / tau);
        s->vel[i] += alpha * (tgt[i] - s->vel[i]);
    }
}

/* out = A · B for row-major 3x3. */
static void mat3_mul(const double *A, const double *B, double *out)
{
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            out[r * 3 + c] = A[r * 3 + 0] * B[0 * 3 + c] + A[r * 3 + 1] * B[1 * 3 + c] + A[r * 3 + 2] * B[2 * 3 + c];
}

/* Column `col` of R projected on the horizontal plane (y = 0), normalised as the reference does. */
static void horizontal_axis(const double *R, int col, double v[3])
{
    v[0] = R[0 * 3 + col];
    v[1] = 0.0;
    v[2] = R[2 * 3 + col];
    double n = sqrt(v[0] * v[0] + v[2] * v[2]);
    if (n > 0) { v[0] /= n + 1e-6; v[2] /= n + 1e-6; }
}

static void integrate(wm_camera_state *s)
{
    double lim = s->p.pitch_limit_deg * DEG2RAD;
    double np = s->pitch + s->vel[WM_CAM_V_PITCH];
    np = np < -lim ? -lim : (np > lim ? lim : np);
    double dp = np - s->pitch;
    s->pitch = np;

    double cy = cos(s->vel[WM_CAM_V_YAW]), sy = sin(s->vel[WM_CAM_V_YAW]);
    double cp = cos(dp), sp = sin(dp);
    const double Ry[9] = {cy, 0, sy, 0, 1, 0, -sy, 0, cy};
    const double Rx[9] = {1, 0, 0, 0, cp, -sp, 0, sp, cp};
    double tmp[9], Rn[9];
    mat3_mul(Ry, s->R, tmp);
    mat3_mul(tmp, Rx, Rn);
    memcpy(s->R, Rn, sizeof Rn);

    double fwd[3], rgt[3];
    horizontal_axis(s->R, 2, fwd);
    horizontal_axis(s->R, 0, rgt);
    for (int i = 0; i < 3; i++)
        s->t[i] += fwd[i] * s->vel[WM_CAM_V_FWD] + rgt[i] * s->vel[WM_CAM_V_STRAFE];
    s->t[1] -= s->vel[WM_CAM_V_UP]; /* OpenCV +Y points down, so "up" is -Y */
}

void wm_camera_pose(const wm_camera_state *s, wm_pose *out)
{
    memset(out->c2w, 0, sizeof out->c2w);
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) out->c2w[r * 4 + c] = (float)s->R[r * 3 + c];
        out->c2w[r * 4 + 3] = (float)s->t[r];
    }
    out->c2w[15] = 1.0f;
    out->fx = s->p.fx;
    out->fy = s->p.fy;
    out->cx = s->p.cx;
    out->cy = s->p.cy;
}

void wm_camera_reset(wm_camera_state *s, const wm_camera_params *p, const wm_pose *start)
{
    memset(s, 0, sizeof *s);
    if (p) s->p = *p;
    wm_camera_params_resolve(&s->p);
    for (int i = 0; i < 9; i++) s->R[i] = (i % 4 == 0) ? 1.0 : 0.0;
    if (start) {
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 3; c++) s->R[r * 3 + c] = start->c2w[r * 4 + c];
            s->t[r] = start->c2w[r * 4 + 3];
        }
        /* forward = column 2; pitch up means forward has a negative y (OpenCV y down). */
        double fy = -s->R[1 * 3 + 2];
        s->pitch = asin(fy < -1 ? -1 : (fy > 1 ? 1 : fy));
    }
}

void wm_camera_step(wm_camera_state *s, const wm_action *a, wm_pose *out)
{
    static const wm_action none = {0};
    update_velocity(s, a ? a : &none);
    integrate(s);
    s->frame++;
    if (out) wm_camera_pose(s, out);
}

void wm_camera_angles(const wm_camera_state *s, float *yaw_deg, float *pitch_deg)
{
    double fx = s->R[0 * 3 + 2], fy = s->R[1 * 3 + 2], fz = s->R[2 * 3 + 2];
    if (yaw_deg) *yaw_deg = (float)(atan2(fx, fz) / DEG2RAD);
    if (pitch_deg) *pitch_deg = (float)(atan2(-fy, sqrt(fx * fx + fz * fz)) / DEG2RAD);
}
