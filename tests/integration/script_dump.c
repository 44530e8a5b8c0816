/* script_dump: writes the consumer's batch script (consumer/script.c) to
 * stdout, for tests/integration/test_script.py, which runs it against a
 * real redis-server with batches larger than the consumer's tests make. */
#include <stdio.h>

#include "consumer.h"

int main(void)
{
    return fputs(sgs_consumer_script, stdout) == EOF ? 1 : 0;
}
