// Seam 2 with LangChain: @arizeai/openinference-instrumentation-langchain starts its LLM spans bare and
// sets `openinference.span.kind = LLM` right after (OITracer): a model call that starts once the run's
// model budget is reached is flagged all the same. A processor cannot stop it: the call runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LangChainInstrumentation } from '@arizeai/openinference-instrumentation-langchain';
import * as CallbackManagerModule from '@langchain/core/callbacks/manager';
import { FakeListChatModel } from '@langchain/core/utils/testing';
import { assertSecondModelSpanFlagged, setup } from './helpers.mjs';

test('OpenInference LangChain: an LLM span that starts after the model-call budget is reached is flagged', async () => {
  const h = setup({ policy: { maxLlmCallsPerRun: 1 } });
  const instrumentation = new LangChainInstrumentation({ tracerProvider: h.provider });
  instrumentation.manuallyInstrument(CallbackManagerModule);
  try {
    const model = new FakeListChatModel({ responses: ['first', 'second'] });
    const answers = await h.alm.run(async () => [
      (await model.invoke('q1')).content,
      (await model.invoke('q2')).content,
    ]);
    assert.deepEqual(answers, ['first', 'second']);
    await assertSecondModelSpanFlagged(h);
  } finally {
    instrumentation.disable();
    await h.close();
  }
});
