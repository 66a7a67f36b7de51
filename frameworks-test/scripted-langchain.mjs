// A scripted LangChain chat model for LangGraph agents: LangChain's own FakeListChatModel, answering with
// the given AIMessages in turn (tool calls included) instead of text. No network.
import { AIMessage } from '@langchain/core/messages';
import { FakeListChatModel } from '@langchain/core/utils/testing';

export class ScriptedChatModel extends FakeListChatModel {
  constructor(messages) {
    super({ responses: messages.map(() => '') });
    this.script = messages;
    this.calls = 0;
  }

  async _generate() {
    const message = this.script[Math.min(this.calls++, this.script.length - 1)];
    return {
      generations: [{ message, text: typeof message.content === 'string' ? message.content : '' }],
      llmOutput: {},
    };
  }

  // createReactAgent binds the tools; the script already says which to call.
  bindTools() {
    return this;
  }
}

/** The model's turn calling `calls` ([name, args, id] each), all in one message (run in parallel). */
export function toolCalls(...calls) {
  return new AIMessage({
    content: '',
    tool_calls: calls.map(([name, args, id]) => ({ name, args, id, type: 'tool_call' })),
  });
}

export const done = (text = 'done') => new AIMessage(text);
