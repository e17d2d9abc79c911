# syntax=docker/dockerfile:1
# The serving image: `trainfer serve` on a model repository mounted at /models (docs/deploy.md).
#
#   docker build -t trainfer:0.1.0 .
#   docker run --rm -p 8000:8000 -v "$PWD/models:/models:ro" trainfer:0.1.0
#   docker run --rm trainfer:0.1.0 --help          # any other subcommand: the entrypoint is `trainfer`
#
# Stages: build (compile the library and the browser page, then `npm pack`: the image holds exactly what the npm package publishes),
# deps (production dependencies from the lockfile, no install scripts: onnxruntime-node's CPU build
# ships inside its package, and its script would only try to download CUDA files), runtime (non-root).
# Pin the base by digest for reproducible builds: --build-arg NODE_IMAGE=node:20-slim@sha256:…
ARG NODE_IMAGE=node:20-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json README.md ./
COPY proto ./proto
COPY docs ./docs
COPY src ./src
# The browser page (`trainfer ui`, dist/web) ships in the package: build it too.
COPY web ./web
RUN npx tsc -p tsconfig.json \
 && npm run build:web \
 && npm pack --ignore-scripts --pack-destination /tmp \
 && mkdir /pkg \
 && tar -xzf /tmp/trainfer-*.tgz -C /pkg --strip-components=1 \
 && cp package-lock.json /pkg/

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY --from=build /pkg/package.json /pkg/package-lock.json ./
# Linux needs only onnxruntime-node's linux binaries: dropping macOS and Windows ones saves ~220 MB.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v*/darwin node_modules/onnxruntime-node/bin/napi-v*/win32 \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="trainfer" \
      org.opencontainers.image.description="Open Inference Protocol (KServe v2) server for ONNX models: trainfer serve" \
      org.opencontainers.image.licenses="MIT"
ENV NODE_ENV=production \
    ONNXRUNTIME_NODE_INSTALL=skip \
    TRAINFER_PORT=8000
WORKDIR /app
# Root-owned application files; the server runs as the image's unprivileged `node` user (uid 1000).
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /pkg/ ./
RUN mkdir -p /models && chown node:node /models
USER node
VOLUME ["/models"]
EXPOSE 8000
# Docker's own health check; Kubernetes ignores it and uses the probes `trainfer deploy k8s` writes.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.TRAINFER_PORT||8000)+'/v2/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["serve", "/models", "--host", "0.0.0.0", "--port", "8000"]
