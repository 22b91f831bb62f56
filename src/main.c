/* Placeholder main, replaced by the dispatcher. */
#include <stdio.h>
int main(void)
{
    puts("gpufleet");
    return 0;
}
