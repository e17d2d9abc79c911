/**
 * onnxruntime-web in the page: picks the backend (WebGPU when the browser gives an adapter, else WASM
 * SIMD — multi-threaded when the page is cross-origin isolated), loads the matching onnxruntime-web
 * build on demand (each build is its own chunk with its own .wasm file, served from this origin), and
 * creates sessions. `?backend=wasm|webgpu` and `?threads=N` in the page URL override the choice.
 */
import type * as Ort from 'onnxruntime-web';
import type { BackendInfo } from '../../src/web/page-api.js';

/** The onnxruntime-web module the page uses (the wasm-only or the webgpu build; same API). */
export type OrtModule = typeof Ort;

/** A loaded runtime: the module and how it runs. */
export interface Runtime {
  ort: OrtModule;
  backend: BackendInfo;
}

/** Chooses the backend and loads onnxruntime-web for it. */
export async function loadRuntime(params: URLSearchParams): Promise<Runtime> {
  const want = params.get('backend');
  const webgpu = want !== 'wasm' && (await hasWebGpu());
  const provider = webgpu && want !== 'wasm' ? 'webgpu' : 'wasm';
  const isolated = globalThis.crossOriginIsolated === true;
  const asked = Number(params.get('threads'));
  const cores = navigator.hardwareConcurrency || 1;
  // Threads need SharedArrayBuffer, which browsers give only to cross-origin isolated pages.
  const threads = isolated ? Math.max(1, Math.min(Number.isInteger(asked) && asked > 0 ? asked : 4, cores)) : 1;
  // Each import() is a separate chunk: the WASM worker threads load that chunk, not the page's code.
  const ort: OrtModule = provider === 'webgpu' ? await import('onnxruntime-web/webgpu') : await import('onnxruntime-web/wasm');
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  const simd = wasmSimd();
  const label = `${provider === 'webgpu' ? 'WebGPU (WASM SIMD for the rest), ' : simd ? 'WASM SIMD, ' : 'WASM, '}${threads} thread${threads === 1 ? '' : 's'}${isolated ? ' (cross-origin isolated)' : ' (not cross-origin isolated: one thread)'}`;
  return { ort, backend: { provider, simd, threads, crossOriginIsolated: isolated, webgpu, label } };
}

/** Creates a session from model bytes on the runtime's backend (WebGPU falls back to WASM per op). */
export async function createSession(rt: Runtime, bytes: Uint8Array): Promise<Ort.InferenceSession> {
  const executionProviders = rt.backend.provider === 'webgpu' ? ['webgpu', 'wasm'] : ['wasm'];
  // logSeverityLevel 3: errors only (onnxruntime's note that shape ops run on the CPU is not one).
  return rt.ort.InferenceSession.create(bytes, { executionProviders, graphOptimizationLevel: 'all', logSeverityLevel: 3 });
}

async function hasWebGpu(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) != null;
  } catch {
    return false;
  }
}

/** Whether WebAssembly SIMD validates: a function `() → v128` doing i8x16.splat + i8x16.popcnt (the wasm-feature-detect probe). */
function wasmSimd(): boolean {
  const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
  return WebAssembly.validate(bytes);
}
