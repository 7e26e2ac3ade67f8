// Signs a webhook payload the way Stripe does, with Stripe's own library, so the tests
// check Ally against Stripe's signing rather than against a copy of Ally's.
// stdin: the payload; argv: <secret> <unix timestamp>; stdout: the Stripe-Signature header.
const Stripe = require("stripe");

const [secret, timestamp] = process.argv.slice(2);
let payload = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (payload += chunk));
process.stdin.on("end", () => {
  const stripe = new Stripe("sk_test_unused");
  process.stdout.write(
    stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: Number(timestamp) }),
  );
});
