/* 8 threads on a shared heap: each adds to every word of one shared array (atomically) and
 * fills and checks blocks of its own. Prints "threads ok". */
#include "program.h"
#include <pthread.h>

#define THREADS 8
#define PASSES 3
static uint64_t *shared;
static size_t shared_words;
static size_t own_mib;
/* A mutex-protected counter on the heap: contended, so the kernel waits on it (futex) while
 * its page may be swapped out. */
struct counter { pthread_mutex_t lock; uint64_t value; };
static struct counter *counter;

static void *work(void *argument) {
    uint64_t id = (uint64_t)(uintptr_t)argument;
    size_t words = (own_mib << 20) / 8;
    uint64_t *own = malloc(words * 8);
    fill(own, words, 100 + id);
    for (int pass = 0; pass < PASSES; pass++) {
        for (size_t i = 0; i < shared_words; i += 64) {
            __atomic_fetch_add(&shared[(i + id * 8) % shared_words], id + 1, __ATOMIC_RELAXED);
            if (i % 4096 == 0) {
                pthread_mutex_lock(&counter->lock);
                counter->value++;
                pthread_mutex_unlock(&counter->lock);
            }
        }
        if (mismatches(own, words, 100 + id) != 0) { printf("FAIL thread %llu own\n", (unsigned long long)id); exit(1); }
    }
    free(own);
    return NULL;
}

int main(int argc, char **argv) {
    size_t mib = arg_mib(argc, argv, 1, 32);
    own_mib = arg_mib(argc, argv, 2, 4);
    shared_words = (mib << 20) / 8;
    shared = calloc(shared_words, 8);
    counter = malloc(sizeof *counter);
    pthread_mutex_init(&counter->lock, NULL);
    counter->value = 0;
    pthread_t threads[THREADS];
    for (uint64_t t = 0; t < THREADS; t++) pthread_create(&threads[t], NULL, work, (void *)(uintptr_t)t);
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
    for (size_t i = 0; i < shared_words; i++) {
        /* Thread id adds id+1 to the words at 8*id modulo 64, once per pass. */
        uint64_t expected = i % 8 == 0 ? PASSES * ((i % 64) / 8 + 1) : 0;
        if (shared[i] != expected) { printf("FAIL shared word %zu: %llu != %llu\n", i, (unsigned long long)shared[i], (unsigned long long)expected); return 1; }
    }
    uint64_t locked = (uint64_t)THREADS * PASSES * ((shared_words + 4095) / 4096);
    if (counter->value != locked) { printf("FAIL counter %llu != %llu\n", (unsigned long long)counter->value, (unsigned long long)locked); return 1; }
    printf("threads ok\n");
    return 0;
}
