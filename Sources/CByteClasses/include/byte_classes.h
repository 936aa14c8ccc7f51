#ifndef SLUICE_BYTE_CLASSES_H
#define SLUICE_BYTE_CLASSES_H
/* Byte classes of a 64-byte window as bit masks (bit k = byte k), for the loops every input byte
   goes through: the CSV scanner and the text check. Written in C because Swift has no way to say
   SSE2's compare-and-movemask (`pmovmskb`): its SIMD types compare, but a mask of lanes to an
   integer is not expressible, and the eight-word SWAR version took about 130 instructions per
   64 bytes against about 25 here. Other CPUs get a plain loop the compiler vectorises as it can.
   The caller guarantees 64 readable bytes at `p`. */
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

typedef struct {
    uint64_t ends;   /* the delimiter or a line feed */
    uint64_t quotes; /* the quote character */
} sluice_csv_window;

static inline sluice_csv_window sluice_csv_classify64(const uint8_t *p, uint8_t delimiter, uint8_t quote) {
    sluice_csv_window w = {0, 0};
#if defined(__SSE2__)
    const __m128i d = _mm_set1_epi8((char)delimiter), lf = _mm_set1_epi8('\n'), q = _mm_set1_epi8((char)quote);
    for (int k = 0; k < 4; k++) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        const uint64_t e = (uint32_t)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, d), _mm_cmpeq_epi8(x, lf)));
        const uint64_t qq = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, q));
        w.ends |= e << (16 * k);
        w.quotes |= qq << (16 * k);
    }
#else
    for (int k = 0; k < 64; k++) {
        w.ends |= (uint64_t)(p[k] == delimiter || p[k] == '\n') << k;
        w.quotes |= (uint64_t)(p[k] == quote) << k;
    }
#endif
    return w;
}

/* Bits of the bytes that are not plain ASCII: NUL, or 0x80 and above. */
static inline uint64_t sluice_not_plain_ascii64(const uint8_t *p) {
    uint64_t m = 0;
#if defined(__SSE2__)
    const __m128i zero = _mm_setzero_si128();
    for (int k = 0; k < 4; k++) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        /* movemask takes each byte's high bit; NUL bytes are added by the compare with zero. */
        m |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_or_si128(x, _mm_cmpeq_epi8(x, zero))) << (16 * k);
    }
#else
    for (int k = 0; k < 64; k++) m |= (uint64_t)(p[k] == 0 || p[k] >= 0x80) << k;
#endif
    return m;
}
/* Bits of the bytes of 0x80 and above (not ASCII). */
static inline uint64_t sluice_high_bytes64(const uint8_t *p) {
    uint64_t m = 0;
#if defined(__SSE2__)
    for (int k = 0; k < 4; k++) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        m |= (uint64_t)(uint32_t)_mm_movemask_epi8(x) << (16 * k);
    }
#else
    for (int k = 0; k < 64; k++) m |= (uint64_t)(p[k] >> 7) << k;
#endif
    return m;
}
#endif
