/* One loader for every program: sgs-consumer and each sgs-aggregator command
 * check a loaded configuration and load the registry and the calendar through
 * these functions, so they accept and refuse the same inputs with the same
 * one-line messages (exit status 2 at start-up):
 *
 * - every kafka.* property must be one librdkafka accepts (with the consumer's
 *   defaults underneath), whether the command talks to Kafka or not:
 *   "sgs.conf:12: key 'kafka.bootstrap.server': No such configuration property ...";
 * - consumer.route.partitioner is crc32 or murmur2;
 * - units.file and calendar.file load (sgs_registry_load, sgs_calendar_load);
 * - every group.<id>.name and every name in "groups" is a group of the
 *   registry: "sgs.conf:7: key 'group.citty.name': no group 'citty' in
 *   configs/units.tsv (its groups: city, county)".
 *
 * A reload (SIGHUP) loads units.file and calendar.file again with the same
 * checks against the configuration the program started with. */
#ifndef SGS_LOADER_H
#define SGS_LOADER_H

#include <stddef.h>

#include "sgs/calendar.h"
#include "sgs/config.h"
#include "sgs/registry.h"

/* The configuration's own checks (no file read besides it): kafka.* and
 * consumer.route.partitioner. 0, or -1 with the message. */
int sgs_loader_check_config(const sgs_config *cfg, char *errstr, size_t errstr_size);

/* Loads units.file and calendar.file and checks the configuration's group
 * names against the registry. 0 with *reg and *cal (the caller's), or -1 with
 * the message and nothing allocated. */
int sgs_loader_load_files(const sgs_config *cfg, sgs_registry **reg, sgs_calendar **cal,
                          char *errstr, size_t errstr_size);

/* Start-up: sgs_loader_check_config, then sgs_loader_load_files. */
int sgs_loader_load(const sgs_config *cfg, sgs_registry **reg, sgs_calendar **cal, char *errstr,
                    size_t errstr_size);

/* group.<id>.name and "groups" against reg (see above). 0, or -1 with the message. */
int sgs_loader_check_groups(const sgs_config *cfg, const sgs_registry *reg, char *errstr,
                            size_t errstr_size);

#endif
