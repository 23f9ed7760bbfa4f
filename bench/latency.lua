-- wrk script (bench/run.py): after a run, print the latency distribution (microseconds) at fine
-- percentiles, so that the rounds of a row can be pooled into one distribution (bench/run.py, pooled).
done = function(summary, latency, requests)
  for p = 1, 89 do
    io.write(string.format("P %g %d\n", p, latency:percentile(p)))
  end
  for i = 900, 999 do
    io.write(string.format("P %g %d\n", i / 10, latency:percentile(i / 10)))
  end
  io.write(string.format("P %g %d\n", 99.95, latency:percentile(99.95)))
  io.write(string.format("P %g %d\n", 100, latency.max))
  io.write(string.format("N %d\n", summary.requests))
end
