"""The cost benchmark: CPU per operation beside the bare floor (issue 10).

`./photomesh bench cost` starts a private mesh of this checkout and a private Envoy edge on
the shared backends, makes a population (bench/cost/population.py: 12 authors posting
posts with one real image each, 40 readers following them, so a home-feed page is a full
20-item page with media), then measures each operation of bench/cost/operations.py on its
own (bench/cost/runs.py):

* load from a separate process through the edge on loopback: ghz for gRPC, wrk for REST
  (bench/measure/ghz.py, wrk.py), closed loop at concurrency 8, gated by count and time;
* throughput, p50 and p99 from the load generator's own report, its CPU apart;
* CPU per call of every mesh process (each service and worker, Envoy, Cassandra, Redis,
  NATS, MinIO) from /proc, net of its idle rate sampled just before and after
  (bench/measure/cpu.py), per process and summed;
* the floor: a bare grpc.aio server answering the same method with the same bytes, loaded
  the same way (bench/measure/bare_server.py), and the ratios against it.

Then the feed at several concurrency levels (latency against load), the fan-out worker's
timeline rows/s and CPU per row, and the feed again with every span exported to an OTLP
receiver (the services restarted for it). The figures are printed with the targets of the
issue beside them (bench/cost/targets.py, tables.py) and saved in bench/results/cost.json;
`--report` turns that into docs/benchmarks.md and its plots (bench/cost/publish.py).
"""
