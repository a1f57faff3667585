"""Instruments shared by benchmarks: CPU read from /proc, the load generators (ghz, wrk) run
as processes of their own, the bare grpc.aio server a measured call is compared with, and
plain-Python SVG charts."""
