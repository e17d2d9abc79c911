/**
 * The gRPC service definition, loaded from the vendored `proto/grpc_predict_v2.proto` with
 * `@grpc/proto-loader` (the server and the client are built from the same file). Field names keep the
 * proto's snake_case; 64-bit integers arrive as decimal strings (exact), `bytes` as Buffers.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type GrpcObject, type ServiceClientConstructor, loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { ServiceDefinition } from '@grpc/grpc-js';

/** The fully qualified service name. */
export const SERVICE_NAME = 'inference.GRPCInferenceService';

/** proto-loader options: snake_case fields, int64 as strings, defaults filled in, oneof names. */
export const LOADER_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true } as const;

/** The vendored .proto file (the package ships `proto/`; found from src/ and from dist/src/). */
export function protoPath(): string {
  for (const up of ['../../../proto/grpc_predict_v2.proto', '../../../../proto/grpc_predict_v2.proto']) {
    const p = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('proto/grpc_predict_v2.proto is missing from the installation');
}

let cached: ServiceClientConstructor | undefined;

/** The client constructor of `inference.GRPCInferenceService` (its `.service` is the server's definition). */
export function inferenceService(): ServiceClientConstructor {
  if (!cached) {
    const pkg = loadPackageDefinition(loadSync(protoPath(), LOADER_OPTIONS));
    cached = (pkg.inference as GrpcObject).GRPCInferenceService as ServiceClientConstructor;
  }
  return cached;
}

/** The service definition a grpc-js `Server` implements. */
export function serviceDefinition(): ServiceDefinition {
  return inferenceService().service;
}
