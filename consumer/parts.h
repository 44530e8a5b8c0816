/* A partition's state by its number (parts.c), inline: the poll loop and
 * the writer ask for it several times a message. */
#ifndef SGS_CONSUMER_PARTS_H
#define SGS_CONSUMER_PARTS_H

#include "consumer.h"

/* Grows the table to hold partition; its state, NULL when out of memory or
 * partition < 0. */
part_state *sgs_parts_grow(sgs_consumer *c, int32_t partition);

/* The partition's state (the table grows as needed); NULL when out of memory
 * or partition < 0. */
static inline part_state *sgs_parts_get(sgs_consumer *c, int32_t partition)
{
    if (partition >= 0 && partition < c->n_parts)
        return &c->parts[partition];
    return sgs_parts_grow(c, partition);
}

#endif
