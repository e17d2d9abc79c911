/**
 * @tensorflow/tfjs on the wasm backend: training throughput peer for bench/train-vs-peers.ts.
 * Usage: npx tsx bench/peers/tfjs-train.ts <mlp|lenet> <batch> <steps> [windows]; prints one JSON line
 * with the best samples/s over `windows` timed windows of `steps` steps.
 */
const [kind = 'mlp', batchArg = '128', stepsArg = '50', windowsArg = '1'] = process.argv.slice(2);
const windows = Number(windowsArg);
const batch = Number(batchArg);
const steps = Number(stepsArg);
const tf = await import('@tensorflow/tfjs');
await import('@tensorflow/tfjs-backend-wasm');
await tf.setBackend('wasm');
await tf.ready();
const model = tf.sequential();
if (kind === 'mlp') {
  model.add(tf.layers.flatten({ inputShape: [28, 28, 1] }));
  model.add(tf.layers.dense({ units: 256, activation: 'relu' }));
  model.add(tf.layers.dense({ units: 10 }));
} else {
  model.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 5, padding: 'same', activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.conv2d({ filters: 64, kernelSize: 5, padding: 'same', activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 128, activation: 'relu' }));
  model.add(tf.layers.dense({ units: 10 }));
}
model.compile({ optimizer: kind === 'mlp' ? tf.train.sgd(0.05) : tf.train.momentum(0.05, 0.9), loss: (y: import('@tensorflow/tfjs').Tensor, p: import('@tensorflow/tfjs').Tensor) => tf.losses.softmaxCrossEntropy(y, p) });
const x = tf.randomUniform([batch, 28, 28, 1]);
const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32'), 10);
try {
  await model.trainOnBatch(x, y);
  await model.trainOnBatch(x, y);
  let best = 0;
  for (let w = 0; w < windows; w++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await model.trainOnBatch(x, y);
    best = Math.max(best, (batch * steps) / ((performance.now() - t0) / 1000));
  }
  console.log(JSON.stringify({ model: kind, batch, steps, samplesPerSecond: best, version: tf.version.tfjs, backend: tf.getBackend() }));
} catch (err) {
  // e.g. the wasm backend has no Conv2DBackpropFilter kernel: report, do not crash with its minified source.
  console.log(JSON.stringify({ model: kind, error: (err as Error).message.split('\n')[0], version: tf.version.tfjs }));
}
