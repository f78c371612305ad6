/* mp4_reader.c -- demux/decode a video file back (tests, `wm replay` verification).
 *
 * Counts video packets (the frame count a player would show), reads size/duration/frame rate from
 * the container, and optionally decodes every frame to RGB8 through swscale. Works on an interrupted
 * fragmented recording as well (the demuxer reads the fragments present).
 */
#include "recordings/mp4.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVFrame *frame;
    AVPacket *pkt;
    struct SwsContext *sws;
    uint8_t *rgb;
    int vs, decoded, stop;
} reader;

static void reader_free(reader *r)
{
    avformat_close_input(&r->fmt);
    avcodec_free_context(&r->dec);
    av_frame_free(&r->frame);
    av_packet_free(&r->pkt);
    sws_freeContext(r->sws);
    free(r->rgb);
}

static wm_status open_decoder(reader *r, const char *path, wm_error *err)
{
    AVCodecParameters *par = r->fmt->streams[r->vs]->codecpar;
    const AVCodec *c = avcodec_find_decoder(par->codec_id);
    if (!c) return wm__errf(err, WM_ERR_UNSUPPORTED, "%s: no decoder for the video stream", path);
    r->dec = avcodec_alloc_context3(c);
    if (!r->dec || avcodec_parameters_to_context(r->dec, par) < 0) return wm__errf(err, WM_ERR_CODEC, "%s: decoder setup", path);
    r->dec->thread_count = 1;
    if (avcodec_open2(r->dec, c, NULL) < 0) return wm__errf(err, WM_ERR_CODEC, "%s: cannot open the decoder", path);
    r->frame = av_frame_alloc();
    r->rgb = malloc((size_t)par->width * (size_t)par->height * 3);
    if (!r->frame || !r->rgb) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    return WM_OK;
}

static void drain(reader *r, wm_mp4_frame_fn fn, void *user)
{
    while (!r->stop && avcodec_receive_frame(r->dec, r->frame) == 0) {
        int w = r->frame->width, h = r->frame->height;
        r->sws = sws_getCachedContext(r->sws, w, h, r->frame->format, w, h, AV_PIX_FMT_RGB24, SWS_BILINEAR | SWS_ACCURATE_RND,
                                      NULL, NULL, NULL);
        if (!r->sws) { r->stop = 1; return; }
        uint8_t *dst[1] = {r->rgb};
        int stride[1] = {w * 3};
        sws_scale(r->sws, (const uint8_t *const *)r->frame->data, r->frame->linesize, 0, h, dst, stride);
        if (fn(user, r->decoded++, r->rgb, w, h)) r->stop = 1;
    }
}

wm_status wm_mp4_read(const char *path, wm_mp4_info *info, wm_mp4_frame_fn on_frame, void *user, wm_error *err)
{
    memset(info, 0, sizeof *info);
    reader r;
    memset(&r, 0, sizeof r);
    av_log_set_level(AV_LOG_FATAL); /* failures come back as our one-line errors */
    wm_status st = WM_OK;
    if (avformat_open_input(&r.fmt, path, NULL, NULL) < 0) return wm__errf(err, WM_ERR_IO, "%s: cannot open as a video", path);
    if (avformat_find_stream_info(r.fmt, NULL) < 0) { st = wm__errf(err, WM_ERR_FORMAT, "%s: no stream info", path); goto done; }
    r.vs = av_find_best_stream(r.fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (r.vs < 0) { st = wm__errf(err, WM_ERR_FORMAT, "%s: no video stream", path); goto done; }
    AVStream *vs = r.fmt->streams[r.vs];
    info->width = vs->codecpar->width;
    info->height = vs->codecpar->height;
    info->duration_s = r.fmt->duration > 0 ? r.fmt->duration / (double)AV_TIME_BASE : 0;
    info->fps = vs->avg_frame_rate.den ? av_q2d(vs->avg_frame_rate) : 0;
    snprintf(info->codec, sizeof info->codec, "%s", avcodec_get_name(vs->codecpar->codec_id));
    if (on_frame && (st = open_decoder(&r, path, err)) != WM_OK) goto done;
    r.pkt = av_packet_alloc();
    if (!r.pkt) { st = wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", path); goto done; }
    while (!r.stop && av_read_frame(r.fmt, r.pkt) >= 0) {
        if (r.pkt->stream_index == r.vs) {
            info->n_frames++;
            if (on_frame && avcodec_send_packet(r.dec, r.pkt) == 0) drain(&r, on_frame, user);
        }
        av_packet_unref(r.pkt);
    }
    if (on_frame && !r.stop) {
        avcodec_send_packet(r.dec, NULL);
        drain(&r, on_frame, user);
    }
done:
    reader_free(&r);
    return st;
}
