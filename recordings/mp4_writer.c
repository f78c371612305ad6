/* mp4_writer.c -- libx264 -> fragmented MP4 writer (design notes in mp4.h).
 *
 * FFmpeg 5.1 API (Debian 12). Packets are rescaled from the codec time base (1/fps) to the stream's,
 * with duration 1 frame. zerolatency disables lookahead and B-frames: every frame produces a packet
 * immediately, so what is on disk trails the program by at most one fragment (one second).
 */
#include "recordings/mp4.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wm_mp4 {
    AVFormatContext *fmt;
    AVCodecContext *enc;
    AVStream *st;
    AVFrame *frame;
    AVPacket *pkt;
    struct SwsContext *sws;
    int64_t next_pts;
    int width, height;
    char path[2048], tmp[2100];
};

static wm_status av_err(wm_error *err, const char *what, const char *path, int rc)
{
    char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(rc, buf, sizeof buf);
    return wm__errf(err, WM_ERR_CODEC, "%s: %s: %s", path, what, buf);
}

static void mp4_free(wm_mp4 *m)
{
    if (!m) return;
    if (m->fmt) {
        if (m->fmt->pb) avio_closep(&m->fmt->pb);
        avformat_free_context(m->fmt);
    }
    avcodec_free_context(&m->enc);
    av_frame_free(&m->frame);
    av_packet_free(&m->pkt);
    sws_freeContext(m->sws);
    free(m);
}

static wm_status open_encoder(wm_mp4 *m, const wm_mp4_params *p, wm_error *err)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) return wm__errf(err, WM_ERR_UNSUPPORTED, "%s: libx264 encoder not available in libavcodec", m->path);
    m->enc = avcodec_alloc_context3(codec);
    if (!m->enc) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", m->path);
    int fps = p->fps > 0 ? p->fps : 16;
    m->enc->width = p->width;
    m->enc->height = p->height;
    m->enc->pix_fmt = AV_PIX_FMT_YUV420P;
    m->enc->time_base = (AVRational){1, fps};
    m->enc->framerate = (AVRational){fps, 1};
    m->enc->gop_size = p->gop > 0 ? p->gop : fps;
    m->enc->max_b_frames = 0;
    if (m->fmt->oformat->flags & AVFMT_GLOBALHEADER) m->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    char crf[16];
    snprintf(crf, sizeof crf, "%d", p->crf > 0 ? p->crf : 18);
    AVDictionary *o = NULL;
    av_dict_set(&o, "preset", "veryfast", 0);
    av_dict_set(&o, "tune", "zerolatency", 0);
    av_dict_set(&o, "crf", crf, 0);
    /* One thread: x264's output is then independent of the host's core count, so two recordings of
     * the same frames are byte-identical (replay checks compare decoded frames, this keeps it simple). */
    av_dict_set(&o, "threads", "1", 0);
    int rc = avcodec_open2(m->enc, codec, &o);
    av_dict_free(&o);
    if (rc < 0) return av_err(err, "opening libx264", m->path, rc);
    return WM_OK;
}

wm_status wm_mp4_open(const char *path, const wm_mp4_params *p, wm_mp4 **out, wm_error *err)
{
    *out = NULL;
    if (!p || p->width <= 0 || p->height <= 0 || (p->width & 1) || (p->height & 1) || p->width > 8192 || p->height > 8192)
        return wm__errf(err, WM_ERR_INVALID_ARG, "%s: frame size must be even and 2..8192", path);
    av_log_set_level(AV_LOG_ERROR); /* x264 prints statistics at INFO */
    wm_mp4 *m = calloc(1, sizeof *m);
    if (!m) return wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    snprintf(m->path, sizeof m->path, "%s", path);
    snprintf(m->tmp, sizeof m->tmp, p->no_part_name ? "%s" : "%s.part", path);
    m->width = p->width;
    m->height = p->height;
    wm_status st = WM_OK;
    int rc = avformat_alloc_output_context2(&m->fmt, NULL, "mp4", m->tmp);
    if (rc < 0 || !m->fmt) { st = av_err(err, "creating the MP4 muxer", path, rc); goto fail; }
    if ((st = open_encoder(m, p, err)) != WM_OK) goto fail;
    m->st = avformat_new_stream(m->fmt, NULL);
    if (!m->st) { st = wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", path); goto fail; }
    m->st->time_base = m->enc->time_base;
    m->st->avg_frame_rate = m->enc->framerate;
    if ((rc = avcodec_parameters_from_context(m->st->codecpar, m->enc)) < 0) { st = av_err(err, "stream parameters", path, rc); goto fail; }
    if ((rc = avio_open(&m->fmt->pb, m->tmp, AVIO_FLAG_WRITE)) < 0) { st = av_err(err, "opening the output", m->tmp, rc); goto fail; }
    AVDictionary *mo = NULL;
    av_dict_set(&mo, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
    rc = avformat_write_header(m->fmt, &mo);
    av_dict_free(&mo);
    if (rc < 0) { st = av_err(err, "writing the MP4 header", path, rc); goto fail; }
    avio_flush(m->fmt->pb);
    m->frame = av_frame_alloc();
    m->pkt = av_packet_alloc();
    if (!m->frame || !m->pkt) { st = wm__errf(err, WM_ERR_OUT_OF_MEMORY, "%s: out of memory", path); goto fail; }
    m->frame->format = AV_PIX_FMT_YUV420P;
    m->frame->width = p->width;
    m->frame->height = p->height;
    if ((rc = av_frame_get_buffer(m->frame, 0)) < 0) { st = av_err(err, "frame buffer", path, rc); goto fail; }
    m->sws = sws_getContext(p->width, p->height, AV_PIX_FMT_RGB24, p->width, p->height, AV_PIX_FMT_YUV420P,
                            SWS_BILINEAR, NULL, NULL, NULL);
    if (!m->sws) { st = wm__errf(err, WM_ERR_CODEC, "%s: swscale context failed", path); goto fail; }
    *out = m;
    return WM_OK;
fail: {
    /* Remove only a file this call created: nothing useful was written to it. */
    int created = m->fmt && m->fmt->pb;
    char tmp[sizeof m->tmp];
    memcpy(tmp, m->tmp, sizeof tmp);
    mp4_free(m);
    if (created) remove(tmp);
    return st;
}
}

/* Send one frame (NULL = flush) and write every packet the encoder produces. */
static wm_status encode(wm_mp4 *m, AVFrame *f, wm_error *err)
{
    int rc = avcodec_send_frame(m->enc, f);
    if (rc < 0) return av_err(err, "encoding", m->path, rc);
    for (;;) {
        rc = avcodec_receive_packet(m->enc, m->pkt);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return WM_OK;
        if (rc < 0) return av_err(err, "encoding", m->path, rc);
        m->pkt->duration = 1;
        av_packet_rescale_ts(m->pkt, m->enc->time_base, m->st->time_base);
        m->pkt->stream_index = m->st->index;
        rc = av_interleaved_write_frame(m->fmt, m->pkt);
        if (rc < 0) return av_err(err, "writing a packet", m->path, rc);
        avio_flush(m->fmt->pb); /* a killed run keeps everything up to the last complete fragment */
    }
}

wm_status wm_mp4_write_rgb(wm_mp4 *m, const uint8_t *rgb, wm_error *err)
{
    int rc = av_frame_make_writable(m->frame);
    if (rc < 0) return av_err(err, "frame buffer", m->path, rc);
    const uint8_t *src[1] = {rgb};
    const int stride[1] = {m->width * 3};
    sws_scale(m->sws, src, stride, 0, m->height, m->frame->data, m->frame->linesize);
    m->frame->pts = m->next_pts++;
    return encode(m, m->frame, err);
}

wm_status wm_mp4_close(wm_mp4 *m, wm_error *err)
{
    if (!m) return WM_OK;
    wm_status st = encode(m, NULL, err);
    if (st == WM_OK) {
        int rc = av_write_trailer(m->fmt);
        if (rc < 0) st = av_err(err, "writing the trailer", m->path, rc);
    }
    if (m->fmt->pb) avio_closep(&m->fmt->pb);
    if (st == WM_OK && strcmp(m->tmp, m->path) != 0 && rename(m->tmp, m->path) != 0)
        st = wm__errf(err, WM_ERR_IO, "%s: rename from %s failed", m->path, m->tmp);
    mp4_free(m);
    return st;
}

void wm_mp4_abandon(wm_mp4 *m) { mp4_free(m); }
