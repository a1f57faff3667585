// gRPC-Web test client for the photomesh edge: @connectrpc/connect-web's gRPC-Web transport
// over fetch, with service descriptors read at run time from a FileDescriptorSet (the one
// `./photomesh gen` writes, plus grpc.health.v1), so no JavaScript is generated.
//
//   node client.mjs <descriptor-set> <edge-url> unary  <service> <method> <json> [token]
//   node client.mjs <descriptor-set> <edge-url> stream <service> <method> <json> <count> [token]
//
// Prints one JSON line: {"ok": true, "response": …} / {"ok": true, "messages": […]} or
// {"ok": false, "code": "<gRPC code name>", "message": …, "details": [...]}.
import { readFileSync } from "node:fs";
import { createFileRegistry, fromBinary, fromJson, toJson } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";

const [descriptorPath, baseUrl, kind, serviceName, methodName, json, ...rest] =
  process.argv.slice(2);
const registry = createFileRegistry(
  fromBinary(FileDescriptorSetSchema, readFileSync(descriptorPath)));
const service = registry.getService(serviceName);
if (!service) throw new Error(`unknown service ${serviceName}`);
const method = service.methods.find((m) => m.name === methodName);
if (!method) throw new Error(`unknown method ${serviceName}/${methodName}`);

const count = kind === "stream" ? Number(rest.shift()) : 0;
const token = rest.shift();
const headers = token ? { authorization: `Bearer ${token}` } : {};
const transport = createGrpcWebTransport({ baseUrl });
const client = createClient(service, transport);
const request = fromJson(method.input, JSON.parse(json), { registry });
const print = (value) => process.stdout.write(JSON.stringify(value) + "\n");

try {
  if (kind === "unary") {
    const response = await client[method.localName](request, { headers, timeoutMs: 10000 });
    print({ ok: true, response: toJson(method.output, response, { registry }) });
  } else {
    const abort = new AbortController();
    const messages = [];
    for await (const message of client[method.localName](request,
      { headers, signal: abort.signal })) {
      messages.push(toJson(method.output, message, { registry }));
      if (messages.length >= count) {
        abort.abort();
        break;
      }
    }
    print({ ok: true, messages });
  }
} catch (err) {
  const e = ConnectError.from(err);
  print({
    ok: false, code: Code[e.code], message: e.rawMessage,
    details: e.details.map((d) => ("desc" in d ? d.desc.typeName : d.type)),
  });
}
