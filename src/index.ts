export { ALM } from './alm';
export type { ALMOptions, EventSinkFunction } from './config/schema';
export { ALMConfigError, ALMDeliveryError, BudgetExceededError, ToolDeniedError, ToolTimeoutError } from './errors';
export type { RetryOptions } from './instrument/retry';
export type { ToolOptions } from './instrument/tool';
export { ALMEventExporter, type ALMEventExporterOptions } from './events/exporter';
export type { PipelineStats } from './events/pipeline';
export {
  ALMEventSchema,
  RunSummarySchema,
  StructuredErrorSchema,
  ToolArgsSchema,
  type ALMEvent,
  type ALMEventType,
  type RunSummary,
  type StructuredErrorShape as StructuredError,
  type ToolArgs,
} from './events/schema';
export type { AsyncToolMethodDecorator, ToolMethodDecorator } from './instrument/decorators';
export type { HandoffOptions } from './instrument/handoff';
export type { LlmCallHandle, LlmOptions } from './instrument/llm';
export type {
  AiSdkCallOptions,
  AiSdkLanguageModel,
  AiSdkToolApprovalRequest,
  AiSdkToolApprovalStatus,
} from './adapters/ai-sdk';
export type { OpenaiAgentsModelOptions } from './adapters/openai-agents';
export type { BudgetDetails, BudgetName } from './policy/budgets';
export type { RunSpend } from './policy/admission';
export type { RunHandle, RunOptions } from './instrument/run';
export type { TaskHandle, TaskOptions } from './instrument/task';
export { SCHEMA_VERSION, SDK_VERSION } from './version';
export { drawRunTree, type RunTreeOptions } from './cli/tree';
