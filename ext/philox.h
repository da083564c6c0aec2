/* Philox4x64-10 (Salmon et al. 2011, "Parallel random numbers: as easy as
 * 1, 2, 3"), the bit generator behind numpy.random.Philox.
 *
 * Contract: ctcsim_philox_next() follows numpy's state machine exactly: the
 * 256-bit counter is incremented (with carry) *before* each block is made, and
 * the four words of a block are handed out in order.  A stream built with
 * key k and counter c therefore equals numpy.random.Philox(key=k, counter=c)
 * word for word; tests/test_rng.py checks that. */
#ifndef CTCSIM_PHILOX_H
#define CTCSIM_PHILOX_H

#include <stdint.h>
#include <math.h>

#define CTCSIM_PHILOX_M0 0xD2E7470EE14C6C93ULL
#define CTCSIM_PHILOX_M1 0xCA5A826395121157ULL
#define CTCSIM_PHILOX_W0 0x9E3779B97F4A7C15ULL
#define CTCSIM_PHILOX_W1 0xBB67AE8584CAA73BULL

typedef struct {
    uint64_t key[2];
    uint64_t ctr[4];
    uint64_t buf[4];
    int pos;            /* next word of buf to hand out; 4 = empty */
} ctcsim_rng;

static inline uint64_t ctcsim_mulhilo(uint64_t a, uint64_t b, uint64_t *hi)
{
    __uint128_t p = (__uint128_t)a * b;
    *hi = (uint64_t)(p >> 64);
    return (uint64_t)p;
}

static inline void ctcsim_philox_block(const uint64_t ctr_in[4],
                                       const uint64_t key_in[2],
                                       uint64_t out[4])
{
    uint64_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
    uint64_t k0 = key_in[0], k1 = key_in[1];
    for (int r = 0; r < 10; r++) {
        if (r > 0) { k0 += CTCSIM_PHILOX_W0; k1 += CTCSIM_PHILOX_W1; }
        uint64_t hi0, hi1;
        uint64_t lo0 = ctcsim_mulhilo(CTCSIM_PHILOX_M0, c0, &hi0);
        uint64_t lo1 = ctcsim_mulhilo(CTCSIM_PHILOX_M1, c2, &hi1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* Stream `stream` of unit `unit` under the run key: counter (0, unit, stream, 0). */
static inline void ctcsim_rng_init(ctcsim_rng *g, const uint64_t key[2],
                                   uint64_t unit, uint64_t stream)
{
    g->key[0] = key[0]; g->key[1] = key[1];
    g->ctr[0] = 0; g->ctr[1] = unit; g->ctr[2] = stream; g->ctr[3] = 0;
    g->pos = 4;
}

static inline uint64_t ctcsim_philox_next(ctcsim_rng *g)
{
    if (g->pos == 4) {
        if (++g->ctr[0] == 0 && ++g->ctr[1] == 0 && ++g->ctr[2] == 0) ++g->ctr[3];
        ctcsim_philox_block(g->ctr, g->key, g->buf);
        g->pos = 0;
    }
    return g->buf[g->pos++];
}

/* Uniform on [0, 1) with 53 random bits (numpy's next_double). */
static inline double ctcsim_uniform(ctcsim_rng *g)
{
    return (double)(ctcsim_philox_next(g) >> 11) * (1.0 / 9007199254740992.0);
}

/* Standard exponential by inversion of one word: -log(u), u in (0, 1]. */
static inline double ctcsim_exponential(ctcsim_rng *g)
{
    return -log((double)((ctcsim_philox_next(g) >> 11) + 1) * (1.0 / 9007199254740992.0));
}

#endif
