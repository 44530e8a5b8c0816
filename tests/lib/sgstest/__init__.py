"""sgstest: the start-up code of the sgs tests, benchmarks and demo.

Real servers on free loopback ports in temporary directories (redis-server,
the Apache Kafka broker in KRaft mode from the cached jars, librdkafka's mock
cluster as sgs-devbroker), the sgs programs, Kafka clients, and the checks of
the pipeline's counters. Modules:

  env          where the sources, the build and this library are
  procs        Scope (who owns processes and temporary directories), Proc,
               spawn(), run(), make_tmpdir(), free_port(), wait_until(), checks
  redisserver  RedisServer
  kafka        KafkaBroker, KafkaCluster, MockBroker, kafka_broker(), produce(), rekey(),
               consume_all(), watermarks(), topic_partitions()
  flow         sgs_config(), generate(), run_consumer(), check_counts(), Pipeline
  fault        the fault suite's snapshots, finish(), Result, strace injection,
               crash rounds
  console      sgs-aggregator serve (Console), plain HTTP, the alert stream
               (SseClient), /metrics parsed, headless Chromium
  plugin       the pytest fixtures (tests/conftest.py loads it)
  demo         scripts/demo.sh's pipeline (python3 -m sgstest.demo)

Used by pytest through tests/pytest.ini (`pythonpath = lib`), and by
bench/run.sh and scripts/demo.sh through PYTHONPATH=tests/lib. How to write a
scenario: tests/README.md.
"""

from . import env
from .env import LIB_DIR, SOURCE_DIR, build_path, pythonpath_env, set_build_dir, source_path
from .flow import (Pipeline, alerts_and_rejects, check_counts, check_doc_lists, consumer_cmd,
                   create_sgs_topics, generate, jsonl_messages, redis_counts, run_consumer,
                   sgs_config, stored_offsets)
from .kafka import (KAFKA_TOOLS, BrokerUnavailable, KafkaBroker, KafkaCluster, MockBroker,
                    MockError, Msg,
                    consume_all, kafka_broker, kafka_jars, kafka_mode, produce, rekey,
                    topic_partitions, watermarks)
from .procs import (Checks, Proc, Scope, check, check_eq, cleanup_all, current_scope,
                    free_port, install_signal_handlers, make_tmpdir, note, run, say, spawn, tail,
                    wait_until, write_config)
from .redisserver import RedisServer, private_redis
from . import fault  # noqa: E402  (sgstest.fault)


def __getattr__(name):
    # BUILD_DIR follows set_build_dir()
    if name == "BUILD_DIR":
        return env.BUILD_DIR
    raise AttributeError("module 'sgstest' has no attribute %r" % name)
