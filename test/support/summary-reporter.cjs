'use strict';
// CI reads only the last line of `npm test`; mocha's own epilogue has a different shape, so
// this reporter prints spec output and then one line: `N passed, N failed[, N skipped]`.
// It also serves `mocha --parallel` (npm run test:parallel): it runs in the main process only, and
// counts the events that the workers report back, so the last line keeps its shape and counts.
const Mocha = require('mocha');

const { EVENT_RUN_END, EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING } =
  Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    runner.on(EVENT_TEST_PASS, () => (passed += 1));
    // Hook failures count too: a failing before() hides the tests behind it.
    runner.on(EVENT_TEST_FAIL, () => (failed += 1));
    runner.on(EVENT_TEST_PENDING, () => (skipped += 1));
    runner.once(EVENT_RUN_END, () => {
      // Spec registered its epilogue first (in super()), so this line comes after it.
      const line = `${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : '');
      process.stdout.write(`${line}\n`);
    });
  }
}

module.exports = SummaryReporter;
