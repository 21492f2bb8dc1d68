// Microsoft's JavaScript idempotent producer (@azure/event-hubs) against the emulator:
// batch A, then batch B whose acknowledgement the emulator loses (it stores B and drops
// the connection), then C. Driven by run.py, which says how to install the client.
const { EventHubProducerClient } = require("@azure/event-hubs");
const readline = require("readline");

async function main() {
  const [connectionString] = process.argv.slice(2);
  const producer = new EventHubProducerClient(connectionString, {
    retryOptions: { maxRetries: 3, retryDelayInMs: 10, timeoutInMs: 10000 },
  });
  producer._enableIdempotentRetries = true; // what EventHubBufferedProducerClient sets
  const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const report = (what) => console.log(JSON.stringify(what));
  await producer.sendBatch([{ body: "a0" }, { body: "a1" }, { body: "a2" }], { partitionId: "0" });
  report({ step: "A", props: await producer.getPartitionPublishingProperties("0") });
  await lines.next(); // the driver arms the lost acknowledgement
  try {
    await producer.sendBatch([{ body: "b0" }, { body: "b1" }, { body: "b2" }], { partitionId: "0" });
    report({ step: "B", ok: true, props: await producer.getPartitionPublishingProperties("0") });
  } catch (err) {
    report({ step: "B", ok: false, error: `${err.name} ${err.code} ${err.message}` });
  }
  try {
    await producer.sendBatch([{ body: "c0" }], { partitionId: "0" });
    report({ step: "C", ok: true, props: await producer.getPartitionPublishingProperties("0") });
  } catch (err) {
    report({ step: "C", ok: false, error: `${err.name} ${err.code} ${err.message}` });
  }
  await producer.close();
}
main().catch((err) => { console.error(err); process.exit(1); });
