/* fork without exec while most of the heap is swapped out: the child reads everything and
 * must see the heap exactly as it was at the fork while the parent rewrites it; then the child
 * writes its own copy. Prints "fork ok". */
#include "program.h"
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    size_t mib = arg_mib(argc, argv, 1, 64);
    size_t words = (mib << 20) / 8;
    uint64_t *heap = malloc(words * 8);
    fill(heap, words, 21);
    push_out(mib / 2);
    int ready[2], go[2];
    if (pipe(ready) != 0 || pipe(go) != 0) { printf("FAIL pipe\n"); return 1; }
    pid_t child = fork();
    if (child < 0) { printf("FAIL fork\n"); return 1; }
    if (child == 0) {
        char c;
        write(ready[1], "r", 1);
        read(go[0], &c, 1); /* the parent is rewriting now */
        if (mismatches(heap, words, 21) != 0) { printf("FAIL child saw a changed or lost page\n"); _exit(1); }
        fill(heap, words, 23);
        push_out(mib / 2);
        if (mismatches(heap, words, 23) != 0) { printf("FAIL child's own copy\n"); _exit(1); }
        _exit(0);
    }
    char c;
    read(ready[0], &c, 1);
    write(go[1], "g", 1);
    fill(heap, words, 22);
    int status = 0;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("FAIL child status %d\n", status);
        return 1;
    }
    push_out(mib / 2);
    if (mismatches(heap, words, 22) != 0) { printf("FAIL parent's rewrite\n"); return 1; }
    printf("fork ok\n");
    return 0;
}
