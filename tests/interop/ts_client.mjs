// A TypeScript SDK client (v1 `@modelcontextprotocol/sdk` or v2 `@modelcontextprotocol/client`) against a URL.
// Usage: node ts_client.mjs v1|v2 URL TOKEN ; prints one JSON object with what the server answered.
const [generation, url, token] = process.argv.slice(2);

const sdk = generation === "v1"
  ? {
      ...(await import("@modelcontextprotocol/sdk/client/index.js")),
      ...(await import("@modelcontextprotocol/sdk/client/streamableHttp.js")),
    }
  : await import("@modelcontextprotocol/client");

const transport = new sdk.StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new sdk.Client({ name: `interop-ts-${generation}`, version: "0.0.0" });
await client.connect(transport);
const tools = await client.listTools();
const call = await client.callTool({ name: "test_simple_text", arguments: {} });
const resource = await client.readResource({ uri: "test://static-text" });
const prompt = await client.getPrompt({ name: "test_prompt_with_arguments", arguments: { arg1: "a", arg2: "b" } });
await client.close();
process.stdout.write(JSON.stringify({
  tools: tools.tools.map((t) => t.name),
  call: call.content[0].text,
  resource: resource.contents[0].text,
  prompt: prompt.messages[0].content.text,
}));
