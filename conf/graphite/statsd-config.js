/* Etsy statsd (npm "statsd") settings that matter for heapwatch, as a
 * complete config.js for a statsd on the same host.
 *
 * flushInterval: statsd sends every gauge to carbon once per flush; make
 *   the first retention step of storage-schemas.conf equal to it, and
 *   heapwatch's `interval` no shorter (only the last value of each flush
 *   reaches Graphite).
 * deleteGauges + gaugesMaxTTL: by default statsd re-sends the last value
 *   of every gauge at every flush, forever.  heapwatch stops sending a
 *   type's gauge when a worker no longer has that type selected, and a
 *   slot's gauges when the slot is empty; without deleteGauges the
 *   Graphite series would go on with a stale flat line.  With them, a
 *   gauge not updated for gaugesMaxTTL flushes is dropped and its series
 *   ends.  gaugesMaxTTL must cover heapwatch's interval (a sample every
 *   30 s with a 10 s flush needs at least 3), plus a flush of slack.
 * graphite.legacyNamespace (default true): gauges are filed under
 *   "stats.gauges.", which the shipped dashboards expect.
 */
{
  port: 8125,
  address: "127.0.0.1",
  mgmt_address: "127.0.0.1",
  mgmt_port: 8126,
  backends: [ "./backends/graphite" ],
  graphiteHost: "127.0.0.1",
  graphitePort: 2003,
  flushInterval: 10000,
  deleteGauges: true,
  gaugesMaxTTL: 2
}
