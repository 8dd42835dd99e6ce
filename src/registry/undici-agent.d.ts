// undici's Agent module (undici/lib/dispatcher/agent.js) has no types of its own: it is
// the class undici's index exports as Agent (test/unit/startup-imports.test.ts checks).
declare module 'undici/lib/dispatcher/agent.js' {
  import type { Agent } from 'undici';
  const AgentModule: typeof Agent;
  export default AgentModule;
}
