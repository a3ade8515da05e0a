/**
 * --device: what `auto` chooses and says, and `--device gpu` without an adapter (the Vulkan loader pointed at no
 * driver) as a user error that says how to fix it. Runs with or without a GPU or the optional `webgpu` package.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertUserError, eapgp } from './helpers/cli.js';
import { GPU } from './helpers/gpu.js';

const NO_DRIVER = { VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json', EAPGP_DEVICE: '' };

test('--device gpu with no adapter: exit 1, why, and what to install or use instead', () => {
  const r = eapgp(['info', '--device', 'gpu'], { env: NO_DRIVER });
  assertUserError(r, /--device gpu \(or EAPGP_DEVICE=gpu\): no WebGPU adapter: .+mesa-vulkan-drivers.+or use --device cpu/s);
});

test('auto with no adapter runs on the CPU and info says why; --device cpu says it was asked for', () => {
  const r = eapgp(['info', '--json'], { env: NO_DRIVER });
  assert.equal(r.code, 0, r.err);
  const info = JSON.parse(r.out) as { device: string; deviceReason: string; gemm: string };
  assert.equal(info.device, 'cpu');
  assert.match(info.deviceReason, /^no GPU: (Dawn found no WebGPU adapter|the optional package "webgpu" did not load|no GPU device node)/);
  const cpu = JSON.parse(eapgp(['info', '--json', '--device', 'cpu']).out) as { device: string; deviceReason: string };
  assert.deepEqual([cpu.device, cpu.deviceReason], ['cpu', '--device cpu (or EAPGP_DEVICE=cpu)']);
  assertUserError(eapgp(['info', '--device', 'tpu']), /--device must be auto, cpu or gpu, got "tpu"/);
});

test('auto never takes a software adapter (and prints nothing about it); --device gpu does, and info names it with its limits', { skip: GPU.available ? false : `no WebGPU adapter (${GPU.reason})` }, () => {
  const autoRun = eapgp(['info', '--json'], { env: { EAPGP_DEVICE: '' } });
  const auto = JSON.parse(autoRun.out) as { device: string; deviceReason: string; adapter: { software: boolean } | null };
  const gpu = JSON.parse(eapgp(['info', '--json', '--device', 'gpu']).out) as {
    device: string; gemm: string; adapter: { software: boolean; description: string }; gpuLimits: { maxStorageBufferBindingSize: number };
  };
  assert.equal(gpu.device, 'gpu');
  assert.equal(gpu.gemm, 'webgpu');
  assert.ok(gpu.gpuLimits.maxStorageBufferBindingSize >= 128 * 1024 * 1024);
  if (gpu.adapter.software) {
    assert.equal(auto.device, 'cpu');
    assert.equal(autoRun.err, '', 'auto on a software-only machine writes nothing on stderr');
    assert.match(auto.deviceReason, /(is a software adapter \(slower than the CPU path\)|no GPU device node .+); --device gpu uses it anyway/);
  } else {
    assert.equal(auto.device, 'gpu');
  }
});
