/* The physical floor of an exact per-particle simulation on this machine: one
 * exponential and one uniform per event from the same Philox4x64-10 streams the
 * core uses, and nothing else.  Each particle ends an event with probability
 * p_end, so the event count per particle matches the reference workload's.
 * Usage: floor N_PARTICLES P_END  -> prints "events seconds checksum". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "philox.h"

int main(int argc, char **argv)
{
    long n = atol(argv[1]);
    double p_end = atof(argv[2]);
    uint64_t key[2] = {1, 2};
    long events = 0;
    double checksum = 0.0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    for (long u = 0; u < n; u++) {
        ctcsim_rng g;
        ctcsim_rng_init(&g, key, (uint64_t)u, 1);
        double t = 0.0;
        for (;;) {
            t += ctcsim_exponential(&g);
            events++;
            if (ctcsim_uniform(&g) < p_end) break;
        }
        checksum += t;
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    printf("%ld %.9f %.6f\n", events, (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec), checksum);
    return 0;
}
