"""The sgs tests' fixtures: real redis-server, the real Apache Kafka broker
(or librdkafka's mock cluster), the sgs programs; see tests/README.md for how
to write and run a scenario and where the programs' logs are.

The fixtures and hooks live in the shared library, lib/sgstest/plugin.py
(pytest.ini puts lib/ on the path); the benchmarks (bench/run.sh) and the demo
(scripts/demo.sh) use the same library.
"""

pytest_plugins = ["sgstest.plugin"]
