import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planSchemaProblems } from '../../src/plan/schema-check.js';

// The plan schema is compiled at build time; its one format (created_at's date-time)
// cannot travel into standalone code, so it is checked beside it and must still refuse.
test('planSchemaProblems: created_at must be a date-time, as the schema says', () => {
  const bad = planSchemaProblems({ format_version: 1, created_at: 'yesterday' }, 100);
  assert.ok(bad.includes('/created_at: must match format "date-time"'), bad.join('\n'));
  const good = planSchemaProblems({ format_version: 1, created_at: '2025-01-01T00:00:00Z' }, 100);
  assert.ok(!good.some((p) => p.startsWith('/created_at')), good.join('\n'));
  assert.ok(good.includes("/: must have required property 'actions'"), 'the compiled schema still checks the rest');
});
