/**
 * Attribute keys and values used on alm-otel spans.
 *
 * The `gen_ai.*` keys are copied from `@opentelemetry/semantic-conventions/incubating`, as that package
 * advises for unstable conventions (test/semconv.test.ts checks they still match it). Stable keys are
 * imported. Everything ALM-specific lives under `alm.*`; the README's attribute table documents each key.
 */
export { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';

// GenAI conventions (status: Development).
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const ATTR_GEN_AI_AGENT_ID = 'gen_ai.agent.id';
export const ATTR_GEN_AI_AGENT_NAME = 'gen_ai.agent.name';
export const ATTR_GEN_AI_AGENT_VERSION = 'gen_ai.agent.version';
export const ATTR_GEN_AI_TOOL_NAME = 'gen_ai.tool.name';
export const ATTR_GEN_AI_TOOL_CALL_ID = 'gen_ai.tool.call.id';
export const ATTR_GEN_AI_TOOL_TYPE = 'gen_ai.tool.type';
export const ATTR_GEN_AI_TOOL_CALL_ARGUMENTS = 'gen_ai.tool.call.arguments';
export const ATTR_GEN_AI_TOOL_CALL_RESULT = 'gen_ai.tool.call.result';
export const GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT = 'invoke_agent';
export const GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL = 'execute_tool';
export const GEN_AI_TOOL_TYPE_VALUE_FUNCTION = 'function';
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
export const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
export const ATTR_GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
export const ATTR_GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons';
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
export const ATTR_GEN_AI_TOKEN_TYPE = 'gen_ai.token.type';
export const GEN_AI_OPERATION_NAME_VALUE_CHAT = 'chat';

// GenAI metrics (status: Development).
export const METRIC_GEN_AI_CLIENT_TOKEN_USAGE = 'gen_ai.client.token.usage';
export const METRIC_GEN_AI_CLIENT_OPERATION_DURATION = 'gen_ai.client.operation.duration';
export const METRIC_GEN_AI_EXECUTE_TOOL_DURATION = 'gen_ai.execute_tool.duration';
export const METRIC_GEN_AI_INVOKE_AGENT_DURATION = 'gen_ai.invoke_agent.duration';
export const METRIC_ALM_POLICY_DECISIONS = 'alm.policy.decisions';
export const METRIC_ALM_BUDGET_EXCEEDED = 'alm.budget.exceeded';

// Run (on the invoke_agent span).
export const ATTR_ALM_RUN_ID = 'alm.run.id';
export const ATTR_ALM_ENV = 'alm.env';
export const ATTR_ALM_POLICY_VERSION = 'alm.policy.version';
export const ATTR_ALM_RUN_PURPOSE = 'alm.run.purpose';
export const ATTR_ALM_RUN_SUCCESS = 'alm.run.success';
export const ATTR_ALM_RUN_TOOL_CALLS_TOTAL = 'alm.run.tool_calls.total';
export const ATTR_ALM_RUN_TOOL_CALLS_ALLOWED = 'alm.run.tool_calls.allowed';
export const ATTR_ALM_RUN_TOOL_CALLS_DENIED = 'alm.run.tool_calls.denied';
export const ATTR_ALM_RUN_TOOL_CALLS_ERROR = 'alm.run.tool_calls.error';
export const ATTR_ALM_RUN_TOOL_CALLS_RETRIED = 'alm.run.tool_calls.retried';
export const ATTR_ALM_RUN_LATENCY_AVG_TOOL_MS = 'alm.run.latency.avg_tool_ms';
export const ATTR_ALM_RUN_LATENCY_AVG_POLICY_MS = 'alm.run.latency.avg_policy_ms';
export const ATTR_ALM_RUN_LATENCY_TOTAL_MS = 'alm.run.latency.total_ms';
export const ATTR_ALM_RUN_TASKS_COMPLETED = 'alm.run.tasks.completed';
export const ATTR_ALM_RUN_TASKS_FAILED = 'alm.run.tasks.failed';
export const ATTR_ALM_RUN_HANDOFFS = 'alm.run.handoffs';
export const ATTR_ALM_RUN_PARENT_ID = 'alm.run.parent_id';
/** A run's label `<name>` is the attribute `alm.label.<name>`. */
export const ATTR_ALM_LABEL_PREFIX = 'alm.label.';
export const ATTR_ALM_RUN_LLM_CALLS = 'alm.run.llm_calls';
export const ATTR_ALM_RUN_TOKENS_INPUT = 'alm.run.tokens.input';
export const ATTR_ALM_RUN_TOKENS_OUTPUT = 'alm.run.tokens.output';
export const ATTR_ALM_RUN_COST_USD = 'alm.run.cost_usd';
/** A run that passed a model budget: which (`llm_calls`, `tokens`, `cost`), its limit, what was spent, … */
export const ATTR_ALM_RUN_BUDGET_EXCEEDED = 'alm.run.budget_exceeded';
export const ATTR_ALM_RUN_BUDGET_EXCEEDED_LIMIT = 'alm.run.budget_exceeded.limit';
export const ATTR_ALM_RUN_BUDGET_EXCEEDED_SPENT = 'alm.run.budget_exceeded.spent';
/** The model without a price, when that is why a cost budget was passed. */
export const ATTR_ALM_RUN_BUDGET_EXCEEDED_MODEL = 'alm.run.budget_exceeded.model';
/** Model calls that ran past a limit, flagged (monitor mode, other instrumentations' calls). */
export const ATTR_ALM_RUN_BUDGET_EXCEEDED_FLAGGED = 'alm.run.budget_exceeded.flagged_llm_calls';

// Model call (on the inference span, besides the gen_ai.* keys).
export const ATTR_ALM_LLM_CALL_ID = 'alm.llm.call_id';
export const ATTR_ALM_LLM_COST_USD = 'alm.llm.cost_usd';
/** `success`, `denied` (refused by a budget) or `error`. */
export const ATTR_ALM_LLM_STATUS = 'alm.llm.status';
/** The budget that refused a call: `tool_calls`, `llm_calls`, `tokens` or `cost`. */
export const ATTR_ALM_BUDGET = 'alm.budget';

// Task.
export const ATTR_ALM_TASK_ID = 'alm.task.id';
export const ATTR_ALM_TASK_TYPE = 'alm.task.type';
export const ATTR_ALM_TASK_DESCRIPTION = 'alm.task.description';
export const ATTR_ALM_TASK_SUCCESS = 'alm.task.success';

// Tool call and its policy decision (on the execute_tool span).
export const ATTR_ALM_POLICY_DECISION = 'alm.policy.decision';
export const ATTR_ALM_POLICY_REASON = 'alm.policy.reason';
export const ATTR_ALM_POLICY_LATENCY_MS = 'alm.policy.latency_ms';
export const ATTR_ALM_POLICY_VIOLATION = 'alm.policy.violation';
export const ATTR_ALM_TOOL_STATUS = 'alm.tool.status';
/** On another instrumentation's tool span whose call an alm tool inside it reported (and enforced). */
export const ATTR_ALM_TOOL_WRAPPED = 'alm.tool.wrapped';
/** On a tool span inside an enclosing tool span of the same call, which reports the call. */
export const ATTR_ALM_TOOL_NESTED = 'alm.tool.nested';
/** The attempt number of a retried tool call (2, 3, …); absent on a first attempt. */
export const ATTR_ALM_TOOL_ATTEMPT = 'alm.tool.attempt';

// Structured error, on any failed span (besides error.type and the span status).
export const ATTR_ALM_ERROR_MESSAGE = 'alm.error.message';
export const ATTR_ALM_ERROR_SOURCE = 'alm.error.source';
export const ATTR_ALM_ERROR_RETRYABLE = 'alm.error.retryable';
export const ATTR_ALM_ERROR_CODE = 'alm.error.code';

// Handoff (on the zero-length handoff span).
export const ATTR_ALM_HANDOFF_TO_AGENT_ID = 'alm.handoff.to_agent_id';
export const ATTR_ALM_HANDOFF_REASON = 'alm.handoff.reason';
export const ATTR_ALM_HANDOFF_CONTEXT = 'alm.handoff.context';

/** Name of the span event that records a policy decision on a tool span. */
export const EVENT_POLICY_DECISION = 'policy.decision';
