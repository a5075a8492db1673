// Host-agnostic core exports (no Node APIs here).
export * from './graph/dtype.js';
export * from './graph/tensor.js';
export * from './graph/runtime.js';
export * from './graph/kernel.js';
export * from './graph/autograd.js';
export * from './graph/device.js';
