"""The reference SDK's cost per tool call, for comparison with `npm run bench`.

    pip install r3fresh==1.0.0 && python bench/reference/r3fresh_tool_call.py

Same shape as the alm-otel benchmark: one allowed tool call inside a run, events to stdout (here
captured in memory, so no terminal I/O is timed), median per call over batches of 1000 calls. The
reference builds, serialises and prints its events on the caller's thread; alm-otel does that work off
the hot path.
"""
import contextlib
import io
import statistics
import time

from r3fresh import ALM

alm = ALM(agent_id="bench", mode="stdout", allowed_tools={"search"}, max_tool_calls_per_run=10**12)


@alm.tool("search")
def search(query: str) -> int:
    return len(query)


samples = []
sink = io.StringIO()
with contextlib.redirect_stdout(sink):
    with alm.run(purpose="bench"):
        for _ in range(60):
            start = time.perf_counter_ns()
            for _ in range(1000):
                search("opentelemetry")
            samples.append((time.perf_counter_ns() - start) / 1000)
            sink.seek(0)
            sink.truncate()
print(f"r3fresh 1.0.0 tool call: median {statistics.median(samples[10:]) / 1000:.2f} µs per call (events built and printed inline)")
